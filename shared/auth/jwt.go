package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Access is one entry of a registry token's "access" claim, as the Docker
// token specification defines it.
type Access struct {
	Type    string   `json:"type"`
	Name    string   `json:"name"`
	Actions []string `json:"actions"`
}

// Claims are a registry token's claims: who, and what it may do.
type Claims struct {
	jwt.RegisteredClaims
	Access []Access `json:"access"`
	// Groups are a keyless login's groups (its federation rules'): it
	// has no stored user to read them from when the token is used.
	Groups []string `json:"groups,omitempty"`
	// TokenID is, in a console session token, the id of the auth token
	// the session was signed in with: the session ends when that token
	// is revoked or expires (docs/console.md).
	TokenID string `json:"tid,omitempty"`
}

// Allows reports whether the token grants action on a repository.
func (c *Claims) Allows(typ, name, action string) bool {
	for _, a := range c.Access {
		if a.Type != typ || a.Name != name {
			continue
		}
		for _, x := range a.Actions {
			if x == action || x == "*" {
				return true
			}
		}
	}
	return false
}

// SigningMethod is the only JWT algorithm Berth issues or accepts:
// ECDSA P-256 (compact signatures keep the Authorization header small).
var SigningMethod = jwt.SigningMethodES256

// KeyID names a public key: the first 16 hex digits of the SHA-256 of its
// DER encoding.
func KeyID(pub *ecdsa.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return ""
	}
	s := sha256.Sum256(der)
	return hex.EncodeToString(s[:8])
}

// NewSigningKey generates a P-256 key, PEM-encoded (PKCS#8).
func NewSigningKey() ([]byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// ParseSigningKey reads a PEM (PKCS#8 or SEC 1) P-256 private key.
func ParseSigningKey(pemBytes []byte) (*ecdsa.PrivateKey, error) {
	b, _ := pem.Decode(pemBytes)
	if b == nil {
		return nil, errors.New("signing key is not PEM")
	}
	if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
		ek, ok := k.(*ecdsa.PrivateKey)
		if !ok || ek.Curve != elliptic.P256() {
			return nil, errors.New("signing key must be ECDSA P-256")
		}
		return ek, nil
	}
	k, err := x509.ParseECPrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse signing key: %w", err)
	}
	if k.Curve != elliptic.P256() {
		return nil, errors.New("signing key must be ECDSA P-256")
	}
	return k, nil
}

// Signer signs a SHA-256 digest with a P-256 key, returning an ASN.1 DER
// ECDSA signature — what crypto/ecdsa and AWS KMS (ECDSA_SHA_256) both
// produce — so the private key may live in a file or never leave KMS.
type Signer interface {
	// Public is the key that verifies the signatures.
	Public() *ecdsa.PublicKey
	// SignDigest signs a SHA-256 digest.
	SignDigest(ctx context.Context, digest []byte) ([]byte, error)
}

// KeySigner is a Signer over a private key in memory.
type KeySigner struct{ Key *ecdsa.PrivateKey }

// Public implements Signer.
func (k KeySigner) Public() *ecdsa.PublicKey { return &k.Key.PublicKey }

// SignDigest implements Signer.
func (k KeySigner) SignDigest(_ context.Context, digest []byte) ([]byte, error) {
	return ecdsa.SignASN1(rand.Reader, k.Key, digest)
}

// Issuer signs registry tokens.
type Issuer struct {
	signer  Signer
	kid     string
	issuer  string
	service string
	ttl     time.Duration
	now     func() time.Time
}

// NewIssuer returns an Issuer for a service (the token's audience).
func NewIssuer(signer Signer, issuer, service string, ttl time.Duration) *Issuer {
	return &Issuer{signer: signer, kid: KeyID(signer.Public()), issuer: issuer, service: service, ttl: ttl, now: time.Now}
}

// WithClock returns a copy of the Issuer that reads the time from now
// (the process's one clock, shared/clock), for issued-at, not-before
// and expiry.
func (i *Issuer) WithClock(now func() time.Time) *Issuer {
	c := *i
	c.now = now
	return &c
}

// Issue signs a token for subject with the given access.
func (i *Issuer) Issue(ctx context.Context, subject string, access []Access) (token string, claims Claims, err error) {
	return i.IssueUntil(ctx, subject, nil, access, time.Time{})
}

// ErrNoLifetime refuses to issue a token that would expire at once: the
// credential it is issued for expires within the second.
var ErrNoLifetime = errors.New("the credential expires too soon to issue a token for it")

// IssueUntil is Issue for a token that expires no later than notAfter
// (the zero time: no bound but the Issuer's lifetime), such as the
// expiry of the OIDC token it is exchanged for, and names the subject's
// groups when it has no stored user (a keyless login).
func (i *Issuer) IssueUntil(ctx context.Context, subject string, groups []string, access []Access, notAfter time.Time) (token string, claims Claims, err error) {
	return i.issue(ctx, Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: subject}, Groups: groups, Access: access}, notAfter)
}

// IssueSession signs a console session token (an Issuer whose audience
// is ConsoleAudience): subject's, granting no registry access, and
// naming the auth token it was signed in with, expiring no later than
// notAfter (that token's expiry; zero: none).
func (i *Issuer) IssueSession(ctx context.Context, subject, tokenID string, notAfter time.Time) (string, Claims, error) {
	return i.issue(ctx, Claims{RegisteredClaims: jwt.RegisteredClaims{Subject: subject}, TokenID: tokenID}, notAfter)
}

// ConsoleAudience is the audience of console session tokens for a
// service: a registry token verifier (whose audience is the service)
// refuses them, so a session opens nothing under /v2/ or /api/.
func ConsoleAudience(service string) string { return service + "/console" }

// issue completes c's registered claims (issuer, audience, times, id)
// and signs it.
func (i *Issuer) issue(ctx context.Context, c Claims, notAfter time.Time) (token string, claims Claims, err error) {
	now := i.now().UTC().Truncate(time.Second)
	exp := now.Add(i.ttl)
	if !notAfter.IsZero() && notAfter.Before(exp) {
		exp = notAfter.UTC().Truncate(time.Second)
		if !exp.After(now) {
			return "", claims, ErrNoLifetime
		}
	}
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	claims = c
	claims.RegisteredClaims = jwt.RegisteredClaims{
		Issuer:    i.issuer,
		Subject:   c.Subject,
		Audience:  jwt.ClaimStrings{i.service},
		ExpiresAt: jwt.NewNumericDate(exp),
		NotBefore: jwt.NewNumericDate(now.Add(-time.Minute)),
		IssuedAt:  jwt.NewNumericDate(now),
		ID:        hex.EncodeToString(id),
	}
	if claims.Access == nil {
		claims.Access = []Access{}
	}
	t := jwt.NewWithClaims(SigningMethod, claims)
	t.Header["kid"] = i.kid
	input, err := t.SigningString()
	if err != nil {
		return "", claims, err
	}
	sum := sha256.Sum256([]byte(input))
	der, err := i.signer.SignDigest(ctx, sum[:])
	if err != nil {
		return "", claims, fmt.Errorf("sign token: %w", err)
	}
	raw, err := joseSignature(der)
	if err != nil {
		return "", claims, err
	}
	return input + "." + base64.RawURLEncoding.EncodeToString(raw), claims, nil
}

// joseSignature turns an ASN.1 DER ECDSA signature into JWS's fixed
// 64-byte R||S form (RFC 7518 §3.4).
func joseSignature(der []byte) ([]byte, error) {
	var sig struct{ R, S *big.Int }
	if rest, err := asn1.Unmarshal(der, &sig); err != nil || len(rest) > 0 || sig.R == nil || sig.S == nil {
		return nil, errors.New("signer returned a malformed ECDSA signature")
	}
	out := make([]byte, 64)
	sig.R.FillBytes(out[:32])
	sig.S.FillBytes(out[32:])
	return out, nil
}

// TTL is how long issued tokens live.
func (i *Issuer) TTL() time.Duration { return i.ttl }

// Verifier checks registry tokens: algorithm (ES256 only, so "none" and
// HMAC-with-the-public-key confusion are refused), key id, signature,
// expiry, audience and issuer.
//
// It remembers the tokens it verified until they expire (see verified),
// so a client's many requests with one token cost one signature check
// per process: on Lambda, per warm authorizer instance.
type Verifier struct {
	keys    map[string]*ecdsa.PublicKey
	issuer  string
	service string
	now     func() time.Time
	cache   *verified
}

// NewVerifier returns a Verifier trusting the given public keys.
func NewVerifier(issuer, service string, keys ...*ecdsa.PublicKey) *Verifier {
	v := &Verifier{keys: map[string]*ecdsa.PublicKey{}, issuer: issuer, service: service, now: time.Now, cache: newVerified()}
	for _, k := range keys {
		v.keys[KeyID(k)] = k
	}
	return v
}

// WithClock returns a copy of the Verifier that checks expiry and
// not-before against now: the clock the Issuer signs with. The copy has
// a cache of its own, since what is valid depends on the clock.
func (v *Verifier) WithClock(now func() time.Time) *Verifier {
	c := *v
	c.now = now
	c.cache = newVerified()
	return &c
}

// ErrBadToken is returned for every token that does not verify.
var ErrBadToken = errors.New("invalid registry token")

// Verify parses and checks a token. The claims returned are the
// caller's own copy, also when the token was verified before (their
// Access and Groups slices are shared: read them, do not modify them).
func (v *Verifier) Verify(token string) (*Claims, error) {
	key := sha256.Sum256([]byte(token))
	if c, ok := v.cache.get(key, v.now()); ok {
		return c, nil
	}
	c, err := v.verify(token)
	if err != nil {
		return nil, err
	}
	v.cache.put(key, c, v.now())
	return c, nil
}

// verify parses and checks a token in full.
func (v *Verifier) verify(token string) (*Claims, error) {
	var c Claims
	_, err := jwt.ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		k, ok := v.keys[kid]
		if !ok {
			return nil, fmt.Errorf("unknown key id %q", kid)
		}
		return k, nil
	},
		jwt.WithValidMethods([]string{SigningMethod.Alg()}),
		jwt.WithAudience(v.service),
		jwt.WithIssuer(v.issuer),
		jwt.WithExpirationRequired(),
		// No leeway: the issuer and the verifier are both Berth's, and
		// the token's lifetime is the documented bound within which a
		// revocation takes effect (config.MaxTokenTTL). A verifier whose
		// clock runs behind is covered by nbf, which Issue sets a minute
		// back.
		jwt.WithTimeFunc(v.now),
	)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	return &c, nil
}
