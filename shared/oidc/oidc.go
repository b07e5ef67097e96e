// Package oidc verifies OpenID Connect ID tokens for keyless logins
// (docs/keyless.md): a CI job's or a Kubernetes service account's token,
// signed by an issuer a tenancy administrator trusts in a federation
// rule.
//
// The order of checks is what keeps it safe: a token's own "iss" picks
// nothing to fetch. The caller first reads the unverified issuer (Peek),
// matches it against the issuer URLs its rules configure, and only then
// asks Verify for that configured issuer, whose keys are discovered from
// its /.well-known/openid-configuration, fetched over https (loopback
// http only when Options.AllowLoopback says so, for tests), from public
// addresses only, bounded in size and time, and cached. Only RS256 and
// ES256 signatures are accepted: never "none", never HMAC (whose key a
// verifier holding public keys could be tricked into using).
package oidc

import (
	"context"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Skew is the clock difference tolerated on exp, nbf and iat.
const Skew = 30 * time.Second

// MaxTokenLength bounds a token accepted for checking (an ID token is
// 1 to 2 KB; API Gateway's whole header block is 10,240 bytes).
const MaxTokenLength = 8192

// Algorithms are the only signature algorithms accepted.
var Algorithms = []string{"RS256", "ES256"}

// Errors a token is refused with; each wraps the detail, which is for
// logs (it may name a fetch failure), never for the client.
var (
	// ErrMalformed: not a compact JWS with JSON claims, or too long.
	ErrMalformed = errors.New("malformed token")
	// ErrAlgorithm: signed with an algorithm other than RS256 or ES256.
	ErrAlgorithm = errors.New("token algorithm not accepted")
	// ErrSignature: no key of the issuer with its key id, or a
	// signature that does not verify.
	ErrSignature = errors.New("token signature does not verify")
	// ErrIssuer: "iss" is not the trusted issuer.
	ErrIssuer = errors.New("token issuer not trusted")
	// ErrExpired: past "exp" (beyond Skew), or without one.
	ErrExpired = errors.New("token expired")
	// ErrNotYetValid: before "nbf", or issued in the future.
	ErrNotYetValid = errors.New("token not yet valid")
	// ErrUnavailable: the issuer's keys could not be fetched.
	ErrUnavailable = errors.New("issuer keys unavailable")
)

// Options configure a Verifier.
type Options struct {
	// AllowLoopback lets issuers be http:// on a loopback host and lets
	// fetches connect to loopback addresses: for tests and a registry
	// run on one machine, never in Lambda (BERTH_OIDC_LOOPBACK).
	AllowLoopback bool
	// Timeout bounds each fetch (default 5 s).
	Timeout time.Duration
	// RootCAs, when set, are the only roots trusted for https (tests
	// with their own TLS server); nil trusts the system's.
	RootCAs *x509.CertPool
	// RefreshEvery is the least time between two fetches of one
	// issuer's keys (default 10 s); tests shorten it.
	RefreshEvery time.Duration
}

// Trust is what a federation rule says about an issuer.
type Trust struct {
	// Issuer is the configured issuer URL.
	Issuer string
	// JWKSHosts are hosts besides the issuer's that its discovery
	// document's jwks_uri may name.
	JWKSHosts []string
}

func (t Trust) cacheKey() string {
	h := slices.Clone(t.JWKSHosts)
	slices.Sort(h)
	return t.Issuer + "\x00" + strings.Join(h, ",")
}

// Verifier checks ID tokens against their issuers' published keys,
// which it caches across requests (a Lambda keeps them while warm).
type Verifier struct {
	fetch   *fetcher
	refresh time.Duration

	mu   sync.Mutex
	sets map[string]*keySet
}

// NewVerifier returns a Verifier.
func NewVerifier(o Options) *Verifier {
	if o.RefreshEvery <= 0 {
		o.RefreshEvery = defaultRefreshEvery
	}
	return &Verifier{fetch: newFetcher(o), refresh: o.RefreshEvery, sets: map[string]*keySet{}}
}

// maxIssuers bounds the cached key sets; they come from rules only, so
// the bound is never reached in practice.
const maxIssuers = 1000

func (v *Verifier) set(t Trust) *keySet {
	v.mu.Lock()
	defer v.mu.Unlock()
	k := t.cacheKey()
	s, ok := v.sets[k]
	if !ok {
		if len(v.sets) >= maxIssuers {
			clear(v.sets)
		}
		s = &keySet{trust: t, refresh: v.refresh}
		v.sets[k] = s
	}
	return s
}

// Peek returns the issuer a token names, without verifying anything:
// only to find the rules that trust it. It refuses a malformed token
// and one signed with an algorithm Verify would refuse, so that such a
// token never causes a fetch.
func Peek(token string) (issuer string, err error) {
	if len(token) > MaxTokenLength {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrMalformed, MaxTokenLength)
	}
	var c jwt.MapClaims
	t, _, err := jwt.NewParser(jwt.WithJSONNumber()).ParseUnverified(token, &c)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if err := checkHeader(t.Header); err != nil {
		return "", err
	}
	iss, _ := c["iss"].(string)
	if iss == "" {
		return "", fmt.Errorf("%w: no iss claim", ErrMalformed)
	}
	return iss, nil
}

// checkHeader refuses an algorithm outside Algorithms and a critical
// header extension (RFC 7515 §4.1.11: none is understood here).
func checkHeader(h map[string]any) error {
	alg, _ := h["alg"].(string)
	if !slices.Contains(Algorithms, alg) {
		return fmt.Errorf("%w: %q", ErrAlgorithm, alg)
	}
	if _, ok := h["crit"]; ok {
		return fmt.Errorf("%w: critical header extensions", ErrMalformed)
	}
	return nil
}

// Verify checks a token issued by t.Issuer: its signature against the
// issuer's keys (fetched or refreshed as needed), its issuer, and its
// exp (required), nbf and iat against now with Skew. The audience and a
// rule's claim conditions are the caller's to check on the result.
func (v *Verifier) Verify(ctx context.Context, token string, t Trust, now time.Time) (*Claims, error) {
	if _, err := Peek(token); err != nil {
		return nil, err
	}
	set := v.set(t)
	var fetchErr error
	keyfunc := func(tok *jwt.Token) (any, error) {
		kid, _ := tok.Header["kid"].(string)
		k, err := set.key(ctx, v.fetch, kid, tok.Method.Alg())
		if errors.Is(err, ErrUnavailable) {
			fetchErr = err
		}
		return k, err
	}
	var mc jwt.MapClaims
	_, err := jwt.NewParser(
		jwt.WithValidMethods(Algorithms),
		jwt.WithIssuer(t.Issuer),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithLeeway(Skew),
		jwt.WithTimeFunc(func() time.Time { return now }),
		jwt.WithJSONNumber(),
	).ParseWithClaims(token, &mc, keyfunc)
	switch {
	case err == nil:
	case fetchErr != nil:
		return nil, fetchErr
	case errors.Is(err, jwt.ErrTokenExpired), errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return nil, fmt.Errorf("%w: %v", ErrExpired, err)
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return nil, fmt.Errorf("%w: %v", ErrNotYetValid, err)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return nil, fmt.Errorf("%w: %v", ErrIssuer, err)
	case errors.Is(err, jwt.ErrTokenMalformed):
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	default:
		return nil, fmt.Errorf("%w: %v", ErrSignature, err)
	}
	return newClaims(mc)
}

// compatible reports whether a key verifies alg (RS256: RSA, ES256:
// P-256 ECDSA), so that no key is ever used with another algorithm.
func compatible(k any, alg string) bool {
	switch key := k.(type) {
	case *rsa.PublicKey:
		return alg == "RS256"
	case *ecdsa.PublicKey:
		return alg == "ES256" && key.Curve.Params().Name == "P-256"
	}
	return false
}

// Fingerprint is a token's SHA-256, for caching a verified token
// without keeping it.
func Fingerprint(token string) string {
	s := sha256.Sum256([]byte(token))
	return string(s[:])
}
