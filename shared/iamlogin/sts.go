package iamlogin

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Errors STS's answer is turned into.
var (
	// ErrRefused: STS refused the signed request (a bad or expired
	// signature, unknown or expired credentials). The detail has STS's
	// error code.
	ErrRefused = errors.New("STS refused the signed request")
	// ErrUnavailable: STS could not be reached or answered 5xx: an
	// outage, not the client's fault.
	ErrUnavailable = errors.New("STS unavailable")
)

// maxAnswer bounds STS's answer (a GetCallerIdentity answer is under
// 1 KB).
const maxAnswer = 64 << 10

// defaultTimeout bounds the STS call: the authorizer has 10 s.
const defaultTimeout = 5 * time.Second

// DefaultEndpoint is the regional STS endpoint of region, which AWS
// recommends over the global one.
func DefaultEndpoint(region string) string {
	if strings.HasPrefix(region, "cn-") {
		return "https://sts." + region + ".amazonaws.com.cn"
	}
	return "https://sts." + region + ".amazonaws.com"
}

// CheckEndpoint checks a configured STS endpoint: an https URL with no
// path, query or user info; http only on a loopback host, and only
// when loopback says so (tests).
func CheckEndpoint(raw string, loopback bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return nil, fmt.Errorf("%q is not an endpoint URL such as https://sts.eu-west-1.amazonaws.com", raw)
	}
	switch u.Scheme {
	case "https":
	case "http":
		ip := net.ParseIP(u.Hostname())
		if !loopback || ((ip == nil || !ip.IsLoopback()) && u.Hostname() != "localhost") {
			return nil, fmt.Errorf("the STS endpoint %q must be https (http only on a loopback host, for tests)", raw)
		}
	default:
		return nil, fmt.Errorf("the STS endpoint %q must be https", raw)
	}
	u.Path = Path
	return u, nil
}

// Options configure a Verifier.
type Options struct {
	// Endpoint is the STS endpoint logins are checked at (default the
	// regional endpoint of Region).
	Endpoint string
	// Region is the region a login's signature must be scoped to.
	Region string
	// Audiences, when set, are the only registry names a login may be
	// signed for; unset, a login must name the host it was sent to.
	Audiences []string
	// AllowLoopback allows an http:// endpoint on a loopback host.
	AllowLoopback bool
	// RootCAs, when set, are the only roots trusted (tests with their
	// own TLS server); nil trusts the system's.
	RootCAs *x509.CertPool
	// Timeout bounds the STS call (default 5 s).
	Timeout time.Duration
}

// Verifier checks logins at one STS endpoint.
type Verifier struct {
	endpoint  *url.URL
	region    string
	audiences []string
	client    *http.Client
}

// NewVerifier returns a Verifier, or an error naming what is wrong in
// the configuration.
func NewVerifier(o Options) (*Verifier, error) {
	if o.Region == "" {
		return nil, errors.New("AWS IAM logins need the region STS logins are signed for (BERTH_STS_REGION or AWS_REGION)")
	}
	if o.Endpoint == "" {
		o.Endpoint = DefaultEndpoint(o.Region)
	}
	u, err := CheckEndpoint(o.Endpoint, o.AllowLoopback)
	if err != nil {
		return nil, err
	}
	if o.Timeout <= 0 {
		o.Timeout = defaultTimeout
	}
	tr := &http.Transport{
		// The endpoint is the operator's; no proxy stands between.
		Proxy:                  nil,
		DialContext:            (&net.Dialer{Timeout: o.Timeout}).DialContext,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: o.RootCAs},
		TLSHandshakeTimeout:    o.Timeout,
		ResponseHeaderTimeout:  o.Timeout,
		MaxResponseHeaderBytes: 32 << 10,
		MaxIdleConnsPerHost:    4,
		IdleConnTimeout:        90 * time.Second,
		ForceAttemptHTTP2:      true,
	}
	return &Verifier{endpoint: u, region: o.Region, audiences: o.Audiences, client: &http.Client{
		Transport: tr, Timeout: o.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return errors.New("redirects are not followed") },
	}}, nil
}

// Endpoint is the STS endpoint logins must be signed for, and Region
// the region: what `berth login --aws` asks the registry (GET
// /token?aws=sts).
func (v *Verifier) Endpoint() string { return v.endpoint.Scheme + "://" + v.endpoint.Host }

// Region is the region a login's signature must be scoped to.
func (v *Verifier) Region() string { return v.region }

// Caller is who STS says signed a login.
type Caller struct {
	// ARN is the caller's ARN as STS gave it.
	ARN string
	// Account is its AWS account.
	Account string
	// Role is the role it acts as (RoleARN of ARN).
	Role string
	// Signed is when the request was signed; a login is good until
	// Signed+Window at most.
	Signed time.Time
}

// Verify checks a login token sent to host (the registry's host as the
// client reached it) and asks STS who signed it. A caller that is not a
// role is ErrNotRole (with Caller.ARN set, for the log).
func (v *Verifier) Verify(ctx context.Context, token, host string, now time.Time) (Caller, error) {
	r, err := Decode(token)
	if err != nil {
		return Caller{}, err
	}
	audiences := v.audiences
	if len(audiences) == 0 {
		audiences = []string{host}
	}
	if _, err := Check(r, v.endpoint.Host, v.region, audiences, now); err != nil {
		return Caller{}, err
	}
	signed, _ := time.Parse(DateFormat, r.Date)
	c, err := v.ask(ctx, r)
	if err != nil {
		return Caller{}, err
	}
	c.Signed = signed
	if c.Role, err = RoleARN(c.ARN); err != nil {
		return c, err
	}
	return c, nil
}

// ask sends the login to STS: Berth's method, path and body to Berth's
// endpoint, with the client's signed header values.
func (v *Verifier) ask(ctx context.Context, r Request) (Caller, error) {
	req, err := http.NewRequestWithContext(ctx, Method, v.endpoint.String(), strings.NewReader(Body))
	if err != nil {
		return Caller{}, err
	}
	req.Host = v.endpoint.Host
	req.ContentLength = int64(len(Body))
	h := req.Header
	h.Set("Content-Type", ContentType)
	h.Set("X-Amz-Date", r.Date)
	h.Set(AudienceHeader, r.Audience)
	if r.SecurityToken != "" {
		h.Set("X-Amz-Security-Token", r.SecurityToken)
	}
	h.Set("Authorization", r.Authorization)
	// No Accept header: STS answers its query protocol in XML.
	h.Set("User-Agent", "berth")
	res, err := v.client.Do(req)
	if err != nil {
		return Caller{}, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxAnswer+1))
	if err != nil || len(b) > maxAnswer {
		return Caller{}, fmt.Errorf("%w: reading the answer: %v (%d bytes)", ErrUnavailable, err, len(b))
	}
	switch {
	case res.StatusCode == http.StatusOK:
	case res.StatusCode >= 500 || res.StatusCode == http.StatusTooManyRequests:
		return Caller{}, fmt.Errorf("%w: %s", ErrUnavailable, res.Status)
	default:
		var e struct {
			Code    string `xml:"Error>Code"`
			Message string `xml:"Error>Message"`
		}
		_ = xml.Unmarshal(b, &e)
		return Caller{}, fmt.Errorf("%w: %s %s: %s", ErrRefused, res.Status, clip(e.Code), clip(e.Message))
	}
	var ok struct {
		ARN     string `xml:"GetCallerIdentityResult>Arn"`
		Account string `xml:"GetCallerIdentityResult>Account"`
	}
	if err := xml.Unmarshal(b, &ok); err != nil || ok.ARN == "" {
		return Caller{}, fmt.Errorf("%w: the answer is not a GetCallerIdentityResponse: %v", ErrUnavailable, err)
	}
	if !strings.Contains(ok.ARN, "::"+ok.Account+":") {
		return Caller{}, fmt.Errorf("%w: the answer's ARN %s is not in its account %s", ErrUnavailable, clip(ok.ARN), clip(ok.Account))
	}
	return Caller{ARN: ok.ARN, Account: ok.Account}, nil
}
