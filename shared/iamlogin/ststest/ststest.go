// Package ststest is a fake AWS STS for tests of AWS IAM logins: it
// answers sts:GetCallerIdentity as STS does, after checking the request
// as STS would — the SigV4 signature recomputed over the headers it
// signed with the caller's secret key (with the SDK's own signer), the
// date within 15 minutes, the session token, the region and service,
// and the action. It refuses everything else with STS's error XML.
package ststest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// Server is a fake STS endpoint for one region.
type Server struct {
	*httptest.Server
	// Region is the region it expects signatures scoped to.
	Region string
	// Calls counts the requests it received.
	Calls atomic.Int64
	// Now is its clock (default time.Now).
	Now func() time.Time

	mu  sync.Mutex
	ids map[string]identity
}

type identity struct {
	creds aws.Credentials
	arn   string
}

// New starts a fake STS for region over TLS (tlsOn) or plain http, and
// stops it when the test ends.
func New(t testing.TB, region string, tlsOn bool) *Server {
	s := &Server{Region: region, Now: time.Now, ids: map[string]identity{}}
	if tlsOn {
		s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	} else {
		s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	}
	t.Cleanup(s.Close)
	return s
}

// RootCAs trusts the server's certificate (nil over plain http).
func (s *Server) RootCAs() *x509.CertPool {
	if s.Certificate() == nil {
		return nil
	}
	p := x509.NewCertPool()
	p.AddCert(s.Certificate())
	return p
}

// Role makes credentials of a session of role name in account: STS
// will say the caller is arn:aws:sts::<account>:assumed-role/<name>/<session>.
func (s *Server) Role(account, name, session string) aws.CredentialsProvider {
	return s.add(fmt.Sprintf("arn:aws:sts::%s:assumed-role/%s/%s", account, name, session), true)
}

// User makes long-lived credentials of IAM user name in account.
func (s *Server) User(account, name string) aws.CredentialsProvider {
	return s.add(fmt.Sprintf("arn:aws:iam::%s:user/%s", account, name), false)
}

func (s *Server) add(arn string, session bool) aws.CredentialsProvider {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	prefix := "AKIA"
	token := ""
	if session {
		prefix = "ASIA"
		token = "FwoGZXIvYXdzE" + strings.Repeat(hex.EncodeToString(b), 20)
	}
	c := aws.Credentials{AccessKeyID: prefix + strings.ToUpper(hex.EncodeToString(b[:8])), SecretAccessKey: hex.EncodeToString(b), SessionToken: token}
	s.mu.Lock()
	s.ids[c.AccessKeyID] = identity{creds: c, arn: arn}
	s.mu.Unlock()
	return credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
}

var authorization = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/([0-9]{8})/([^/]+)/([^/]+)/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.Calls.Add(1)
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	fail := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "text/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>%s</Code><Message>%s</Message></Error><RequestId>fake</RequestId></ErrorResponse>`, code, msg)
	}
	form, err := url.ParseQuery(string(body))
	switch {
	case r.Method != http.MethodPost || r.URL.Path != "/":
		fail(http.StatusBadRequest, "InvalidAction", "only POST /")
		return
	case err != nil || form.Get("Action") != "GetCallerIdentity" || form.Get("Version") != "2011-06-15":
		fail(http.StatusBadRequest, "InvalidAction", "only GetCallerIdentity is served here")
		return
	}
	m := authorization.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		fail(http.StatusForbidden, "IncompleteSignature", "no SigV4 signature")
		return
	}
	s.mu.Lock()
	id, ok := s.ids[m[1]]
	s.mu.Unlock()
	if !ok {
		fail(http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
		return
	}
	date, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil || m[2] != date.Format("20060102") || m[3] != s.Region || m[4] != "sts" {
		fail(http.StatusForbidden, "SignatureDoesNotMatch", "credential scope does not match")
		return
	}
	if d := s.Now().Sub(date); d > 15*time.Minute || d < -15*time.Minute {
		fail(http.StatusForbidden, "SignatureDoesNotMatch", "Signature expired")
		return
	}
	if r.Header.Get("X-Amz-Security-Token") != id.creds.SessionToken {
		fail(http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
		return
	}
	// Recompute the signature over what was signed, as STS does.
	again, _ := http.NewRequest(r.Method, "https://"+r.Host+r.URL.Path, nil)
	again.Host = r.Host
	signed := strings.Split(m[5], ";")
	for _, h := range signed {
		switch h {
		case "host":
		case "content-length":
			again.ContentLength = r.ContentLength
		default:
			for _, v := range r.Header.Values(h) {
				again.Header.Add(h, v)
			}
		}
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(context.Background(), id.creds, again, hex.EncodeToString(sum[:]), "sts", s.Region, date); err != nil {
		fail(http.StatusForbidden, "SignatureDoesNotMatch", err.Error())
		return
	}
	if again.Header.Get("Authorization") != r.Header.Get("Authorization") {
		fail(http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
		return
	}
	account := strings.Split(id.arn, ":")[4]
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>%s</Arn><UserId>AROAFAKE:%s</UserId><Account>%s</Account></GetCallerIdentityResult><ResponseMetadata><RequestId>fake</RequestId></ResponseMetadata></GetCallerIdentityResponse>`, id.arn, m[1], account)
}
