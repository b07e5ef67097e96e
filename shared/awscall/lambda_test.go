package awscall_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/berth-registry/berth/shared/awscall"
)

// seen is what a test server received.
type seen struct {
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

func (s *seen) record(r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.reqs = append(s.reqs, r)
	s.body = append(s.body, b)
}

func (s *seen) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.reqs)
}

// server answers each request with the next of answers (the last one
// again when they run out), recording what it received; it is the
// endpoint of every service for the test.
func server(t *testing.T, answers ...func(http.ResponseWriter)) *seen {
	s := &seen{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.record(r)
		answers[min(s.count(), len(answers))-1](w)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ENDPOINT_URL", srv.URL)
	t.Setenv("AWS_ENDPOINT_URL_KMS", "")
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", "")
	return s
}

var creds = credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", "session-token")

func config() aws.Config { return aws.Config{Region: "eu-west-1", Credentials: creds} }

// TestInvokeEventRequest: an Event invocation is the REST call Lambda
// documents, with the payload as its body, signed for lambda in the
// region with the session token; the signature, recomputed from what the
// server received, matches.
func TestInvokeEventRequest(t *testing.T) {
	s := server(t, func(w http.ResponseWriter) { w.WriteHeader(http.StatusAccepted) })
	fn := "arn:aws:lambda:eu-west-1:123456789012:function:berth-fill"
	payload := []byte(`{"repo":"dev/hub/library/alpine","digest":"sha256:ab"}`)
	if err := awscall.NewLambda(config()).InvokeEvent(t.Context(), fn, payload); err != nil {
		t.Fatal(err)
	}
	if s.count() != 1 {
		t.Fatalf("%d requests, want 1", s.count())
	}
	r, body := s.reqs[0], s.body[0]
	if r.Method != http.MethodPost || r.URL.Path != "/2015-03-31/functions/"+fn+"/invocations" {
		t.Errorf("request %s %s", r.Method, r.URL.Path)
	}
	if r.Header.Get("X-Amz-Invocation-Type") != "Event" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("headers %v", r.Header)
	}
	if !bytes.Equal(body, payload) {
		t.Errorf("body %q, want the payload", body)
	}
	if r.Header.Get("X-Amz-Security-Token") != "session-token" {
		t.Errorf("no session token: %v", r.Header)
	}
	auth := r.Header.Get("Authorization")
	date := r.Header.Get("X-Amz-Date")
	scope := "Credential=AKIDEXAMPLE/" + date[:8] + "/eu-west-1/lambda/aws4_request"
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 "+scope+", SignedHeaders=") {
		t.Fatalf("Authorization %q, want the scope %s", auth, scope)
	}
	for _, h := range []string{"host", "x-amz-date", "x-amz-invocation-type", "x-amz-security-token", "content-type"} {
		if !strings.Contains(auth, h) {
			t.Errorf("%s is not signed: %s", h, auth)
		}
	}
	// Sign what arrived again, at the time it was signed: the same
	// signature, so it covers this body, path and these headers.
	at, err := time.Parse("20060102T150405Z", date)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := http.NewRequest(r.Method, "http://"+r.Host+r.URL.EscapedPath(), bytes.NewReader(body))
	for k, v := range r.Header {
		if k != "Authorization" && k != "User-Agent" && k != "Accept-Encoding" {
			again.Header[k] = v
		}
	}
	sum := sha256.Sum256(body)
	c, _ := creds.Retrieve(context.Background())
	if err := v4.NewSigner().SignHTTP(context.Background(), c, again, hex.EncodeToString(sum[:]), "lambda", "eu-west-1", at); err != nil {
		t.Fatal(err)
	}
	if got := again.Header.Get("Authorization"); got != auth {
		t.Errorf("the signature does not verify:\n got  %s\n want %s", auth, got)
	}
}

// TestDecryptRequest: Decrypt is KMS's JSON 1.1 call, blobs in base64,
// signed for kms; the plaintext comes back decoded.
func TestDecryptRequest(t *testing.T) {
	s := server(t, func(w http.ResponseWriter) {
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		_, _ = io.WriteString(w, `{"KeyId":"arn:aws:kms:eu-west-1:1:key/k","Plaintext":"c2VjcmV0","EncryptionAlgorithm":"SYMMETRIC_DEFAULT"}`)
	})
	got, err := awscall.NewKMS(config()).Decrypt(t.Context(), "alias/berth-cache", []byte("sealed\x00"), map[string]string{"berth:cache-rule": "dev/hub"})
	if err != nil || string(got) != "secret" {
		t.Fatalf("Decrypt = %q, %v", got, err)
	}
	r := s.reqs[0]
	if r.Method != http.MethodPost || r.URL.Path != "/" || r.Header.Get("X-Amz-Target") != "TrentService.Decrypt" ||
		r.Header.Get("Content-Type") != "application/x-amz-json-1.1" {
		t.Errorf("request %s %s %v", r.Method, r.URL.Path, r.Header)
	}
	if want := `{"CiphertextBlob":"c2VhbGVkAA==","KeyId":"alias/berth-cache","EncryptionContext":{"berth:cache-rule":"dev/hub"}}`; string(s.body[0]) != want {
		t.Errorf("body %s\nwant %s", s.body[0], want)
	}
	if !strings.Contains(r.Header.Get("Authorization"), "/eu-west-1/kms/aws4_request") {
		t.Errorf("Authorization %q is not for kms", r.Header.Get("Authorization"))
	}
}
