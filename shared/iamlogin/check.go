package iamlogin

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Errors a login is refused with before anything is sent to STS; each
// wraps the detail, which names what the client sent (for logs).
var (
	// ErrEndpoint: the request was signed for another host than the
	// STS endpoint the registry is configured with.
	ErrEndpoint = errors.New("signed for another STS endpoint")
	// ErrScope: the signature's scope is not this registry's region,
	// nor the sts service, or its date is not the request's.
	ErrScope = errors.New("signature scope not accepted")
	// ErrAudience: the request names another registry.
	ErrAudience = errors.New("signed for another registry")
	// ErrExpired: the request was signed too long ago (or in the
	// future), beyond what STS would accept.
	ErrExpired = errors.New("signed request expired")
)

// Window is how long after its X-Amz-Date a signed request is accepted:
// STS's own limit. Skew is how far in the future a date may be.
const (
	Window = 15 * time.Minute
	Skew   = 5 * time.Minute
)

// DateFormat is X-Amz-Date's layout.
const DateFormat = "20060102T150405Z"

// signedHeaders are the headers a login may sign: those Berth sends.
// The first four must be signed; the security token must be when the
// request carries one (role credentials always do).
var (
	requiredSigned = []string{"content-type", "host", "x-amz-date", "x-berth-audience"}
	optionalSigned = []string{"content-length", "x-amz-security-token"}
)

var authorization = lazyRegexp(`^AWS4-HMAC-SHA256 Credential=([A-Z0-9]{16,128})/([0-9]{8})/([a-z0-9-]{1,32})/([a-z0-9-]{1,32})/aws4_request, ?SignedHeaders=([a-z0-9;-]{1,300}), ?Signature=([0-9a-f]{64})$`)

// Scope is what a login's signature says of itself.
type Scope struct {
	AccessKeyID, Region, Service string
	SignedHeaders                []string
}

// Check checks a login's shape against the registry's STS endpoint host
// and region, the audiences it answers to, and the time: everything that
// can be refused without asking STS. STS then checks the signature.
func Check(r Request, endpointHost, region string, audiences []string, now time.Time) (Scope, error) {
	var s Scope
	if !strings.EqualFold(r.Host, endpointHost) {
		return s, fmt.Errorf("%w: host %q, this registry asks %s", ErrEndpoint, clip(r.Host), endpointHost)
	}
	if !slices.ContainsFunc(audiences, func(a string) bool { return strings.EqualFold(a, r.Audience) }) {
		return s, fmt.Errorf("%w: %s %q", ErrAudience, AudienceHeader, clip(r.Audience))
	}
	m := authorization().FindStringSubmatch(r.Authorization)
	if m == nil {
		return s, fmt.Errorf("%w: the authorization header is not an AWS4-HMAC-SHA256 signature", ErrMalformed)
	}
	s = Scope{AccessKeyID: m[1], Region: m[3], Service: m[4], SignedHeaders: strings.Split(m[5], ";")}
	date, err := time.Parse(DateFormat, r.Date)
	if err != nil {
		return s, fmt.Errorf("%w: x-amz-date %q is not %s", ErrMalformed, clip(r.Date), DateFormat)
	}
	switch {
	case s.Service != Service:
		return s, fmt.Errorf("%w: service %q, not sts", ErrScope, s.Service)
	case s.Region != region:
		return s, fmt.Errorf("%w: region %q, this registry asks %s", ErrScope, s.Region, region)
	case m[2] != date.Format("20060102"):
		return s, fmt.Errorf("%w: scope date %s is not x-amz-date's", ErrScope, m[2])
	case now.Sub(date) > Window:
		return s, fmt.Errorf("%w: signed at %s", ErrExpired, date.Format(time.RFC3339))
	case date.Sub(now) > Skew:
		return s, fmt.Errorf("%w: signed in the future, at %s", ErrExpired, date.Format(time.RFC3339))
	}
	for _, h := range requiredSigned {
		if !slices.Contains(s.SignedHeaders, h) {
			return s, fmt.Errorf("%w: %s is not signed", ErrMalformed, h)
		}
	}
	for _, h := range s.SignedHeaders {
		if !slices.Contains(requiredSigned, h) && !slices.Contains(optionalSigned, h) {
			return s, fmt.Errorf("%w: header %q is signed but is not one Berth sends", ErrMalformed, h)
		}
	}
	if signed := slices.Contains(s.SignedHeaders, "x-amz-security-token"); signed != (r.SecurityToken != "") {
		return s, fmt.Errorf("%w: x-amz-security-token must be signed exactly when it is given", ErrMalformed)
	}
	return s, nil
}

// clip shortens a client-given value for a log line.
func clip(s string) string {
	if len(s) > 100 {
		return s[:100] + "…"
	}
	return s
}
