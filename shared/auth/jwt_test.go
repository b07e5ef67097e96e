package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// testKey returns a fresh P-256 signing key.
func testKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	pemBytes, err := NewSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseSigningKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var pullApp = []Access{{Type: "repository", Name: "dev/app", Actions: []string{"pull"}}}

// validClaims are claims the verifier of newPair accepts at time now.
func validClaims(now time.Time) Claims {
	return Claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Issuer: "berth", Subject: "dev/admin", Audience: jwt.ClaimStrings{"registry"},
			ExpiresAt: jwt.NewNumericDate(now.Add(5 * time.Minute)),
			IssuedAt:  jwt.NewNumericDate(now),
		},
		Access: pullApp,
	}
}

// signWith signs claims with any method and key, with a kid header.
func signWith(t *testing.T, m jwt.SigningMethod, key any, kid string, c Claims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign %s: %v", m.Alg(), err)
	}
	return s
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	key := testKey(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	iss := NewIssuer(KeySigner{key}, "berth", "registry", 10*time.Minute)
	iss.now = func() time.Time { return now }
	v := NewVerifier("berth", "registry", &key.PublicKey)
	v.now = func() time.Time { return now.Add(9 * time.Minute) }

	tok, claims, err := iss.Issue(context.Background(), "dev/admin", pullApp)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok) > 1024 {
		t.Errorf("token is %d bytes; tokens must stay compact for the 10,240-byte header quota", len(tok))
	}
	if got := claims.ExpiresAt.Time; !got.Equal(now.Add(10 * time.Minute)) {
		t.Errorf("exp %v, want %v", got, now.Add(10*time.Minute))
	}
	if iss.TTL() != 10*time.Minute {
		t.Errorf("TTL() = %v", iss.TTL())
	}
	got, err := v.Verify(tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.Subject != "dev/admin" || got.Issuer != "berth" || len(got.Audience) != 1 || got.Audience[0] != "registry" || got.ID == "" {
		t.Errorf("claims %+v", got.RegisteredClaims)
	}
	if !got.Allows("repository", "dev/app", "pull") || got.Allows("repository", "dev/app", "push") || got.Allows("repository", "dev/other", "pull") {
		t.Errorf("access %+v grants the wrong things", got.Access)
	}
	hdr := decodeSegment(t, tok, 0)
	if hdr["alg"] != "ES256" || hdr["kid"] != KeyID(&key.PublicKey) {
		t.Errorf("header %v, want alg ES256 and kid %s", hdr, KeyID(&key.PublicKey))
	}
	// Two tokens for the same request differ (jti).
	tok2, _, _ := iss.Issue(context.Background(), "dev/admin", pullApp)
	if tok2 == tok {
		t.Error("two issued tokens are identical")
	}
	// No access still yields an explicit empty list, as docker expects.
	tok3, _, _ := iss.Issue(context.Background(), "", nil)
	if p := decodeSegment(t, tok3, 1); p["access"] == nil {
		t.Errorf("payload %v lacks an access list", p)
	}
}

func TestClaimsAllows(t *testing.T) {
	c := Claims{Access: []Access{
		{Type: "repository", Name: "dev/a", Actions: []string{"pull", "push"}},
		{Type: "repository", Name: "dev/b", Actions: []string{"*"}},
		{Type: "registry", Name: "catalog", Actions: []string{"*"}},
	}}
	tests := []struct {
		typ, name, action string
		want              bool
	}{
		{"repository", "dev/a", "pull", true},
		{"repository", "dev/a", "push", true},
		{"repository", "dev/a", "delete", false},
		{"repository", "dev/b", "delete", true},
		{"repository", "dev/c", "pull", false},
		{"repository", "catalog", "*", false}, // type matters
		{"registry", "catalog", "*", true},
		{"repository", "dev/A", "pull", false},
	}
	for _, tc := range tests {
		if got := c.Allows(tc.typ, tc.name, tc.action); got != tc.want {
			t.Errorf("Allows(%q, %q, %q) = %v, want %v", tc.typ, tc.name, tc.action, got, tc.want)
		}
	}
}

func TestVerifyRefuses(t *testing.T) {
	key := testKey(t)
	other := testKey(t)
	kid := KeyID(&key.PublicKey)
	now := time.Now()
	good := signWith(t, SigningMethod, key, kid, validClaims(now))

	pubDER, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	ecdhPub, err := key.PublicKey.ECDH()
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, validClaims(now)).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		t.Fatal(err)
	}
	with := func(edit func(c *Claims)) string {
		c := validClaims(now)
		edit(&c)
		return signWith(t, SigningMethod, key, kid, c)
	}

	tests := []struct {
		name  string
		token string
	}{
		{"expired", with(func(c *Claims) { c.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Minute)) })},
		{"without an expiry", with(func(c *Claims) { c.ExpiresAt = nil })},
		{"not yet valid", with(func(c *Claims) { c.NotBefore = jwt.NewNumericDate(now.Add(time.Hour)) })},
		{"wrong audience", with(func(c *Claims) { c.Audience = jwt.ClaimStrings{"another-registry"} })},
		{"no audience", with(func(c *Claims) { c.Audience = nil })},
		{"wrong issuer", with(func(c *Claims) { c.Issuer = "someone-else" })},
		{"signed by an unknown key with its own kid", signWith(t, SigningMethod, other, KeyID(&other.PublicKey), validClaims(now))},
		{"signed by an unknown key claiming the trusted kid", signWith(t, SigningMethod, other, kid, validClaims(now))},
		{"without a kid", signWith(t, SigningMethod, key, "", validClaims(now))},
		{"tampered payload", tamper(t, good, func(p map[string]any) {
			p["access"] = []any{map[string]any{"type": "repository", "name": "dev/app", "actions": []any{"*"}}}
		})},
		{"tampered subject", tamper(t, good, func(p map[string]any) { p["sub"] = "dev/root" })},
		{"tampered signature", good[:len(good)-4] + flip(good[len(good)-4:])},
		{"signature removed", good[:strings.LastIndex(good, ".")+1]},
		{"alg none, no signature", withKid(t, none, kid)},
		{"alg none, header edited from a good token", swapHeader(t, good, map[string]any{"alg": "none", "kid": kid})[:strings.LastIndex(good, ".")+1]},
		{"HS256 keyed with the PEM public key", signWith(t, jwt.SigningMethodHS256, pubPEM, kid, validClaims(now))},
		{"HS256 keyed with the DER public key", signWith(t, jwt.SigningMethodHS256, pubDER, kid, validClaims(now))},
		{"HS256 keyed with the raw public point", signWith(t, jwt.SigningMethodHS256, ecdhPub.Bytes(), kid, validClaims(now))},
		{"RS256 with the trusted kid", signWith(t, jwt.SigningMethodRS256, rsaKey, kid, validClaims(now))},
		{"ES384 with the trusted kid", signWith(t, jwt.SigningMethodES384, p384, kid, validClaims(now))},
		{"two segments", strings.Join(strings.Split(good, ".")[:2], ".")},
		{"garbage", "not-a-token"},
		{"empty", ""},
	}
	v := NewVerifier("berth", "registry", &key.PublicKey)
	if _, err := v.Verify(good); err != nil {
		t.Fatalf("the unaltered token does not verify: %v", err)
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(tc.token)
			if err == nil {
				t.Fatalf("Verify accepted it: %+v", c)
			}
			if !errors.Is(err, ErrBadToken) {
				t.Errorf("error %v does not wrap ErrBadToken", err)
			}
			if c != nil {
				t.Errorf("claims returned with the error: %+v", c)
			}
		})
	}
}

// TestVerifyExpiryIsExact: a token stops verifying the second its
// lifetime ends (the bound docs/auth.md states for revocation), while a
// verifier whose clock is behind the issuer's still accepts a new one.
func TestVerifyExpiryIsExact(t *testing.T) {
	key := testKey(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	iss := NewIssuer(KeySigner{key}, "berth", "registry", time.Minute)
	iss.now = func() time.Time { return now }
	tok, _, err := iss.Issue(context.Background(), "dev/admin", pullApp)
	if err != nil {
		t.Fatal(err)
	}
	v := NewVerifier("berth", "registry", &key.PublicKey)
	for _, tc := range []struct {
		at   time.Duration
		want bool
	}{
		{0, true},
		{-50 * time.Second, true}, // nbf is a minute back, for skewed clocks
		{-2 * time.Minute, false},
		{time.Minute - time.Second, true},
		{time.Minute + time.Second, false}, // no leeway past exp
		{time.Minute + 40*time.Second, false},
		{24 * time.Hour, false},
	} {
		v.now = func() time.Time { return now.Add(tc.at) }
		_, err := v.Verify(tok)
		if got := err == nil; got != tc.want {
			t.Errorf("at issue%+v: accepted = %v, want %v (%v)", tc.at, got, tc.want, err)
		}
	}
}

func TestVerifierTrustsEveryKeyGiven(t *testing.T) {
	old, cur := testKey(t), testKey(t)
	v := NewVerifier("berth", "registry", &old.PublicKey, &cur.PublicKey)
	for _, k := range []*ecdsa.PrivateKey{old, cur} {
		tok, _, err := NewIssuer(KeySigner{k}, "berth", "registry", time.Minute).Issue(context.Background(), "dev/a", nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := v.Verify(tok); err != nil {
			t.Errorf("token of key %s refused: %v", KeyID(&k.PublicKey), err)
		}
	}
}

// failingSigner is a Signer (as KMS would be) that errs or returns
// something that is not a DER ECDSA signature.
type failingSigner struct {
	pub *ecdsa.PublicKey
	sig []byte
	err error
}

func (f failingSigner) Public() *ecdsa.PublicKey { return f.pub }

func (f failingSigner) SignDigest(context.Context, []byte) ([]byte, error) { return f.sig, f.err }

func TestIssueRefusesWhenTheSignerFails(t *testing.T) {
	pub := &testKey(t).PublicKey
	for name, s := range map[string]failingSigner{
		"signer error":           {pub: pub, err: errors.New("kms: throttled")},
		"not DER":                {pub: pub, sig: []byte("not a signature")},
		"DER with trailing data": {pub: pub, sig: append(derSig(t), 0)},
		"empty":                  {pub: pub},
	} {
		if tok, _, err := NewIssuer(s, "berth", "registry", time.Minute).Issue(context.Background(), "dev/a", nil); err == nil {
			t.Errorf("%s: Issue = %q, want an error", name, tok)
		}
	}
}

// derSig is some valid DER ECDSA signature.
func derSig(t *testing.T) []byte {
	t.Helper()
	d := sha256.Sum256([]byte("x"))
	sig, err := KeySigner{testKey(t)}.SignDigest(context.Background(), d[:])
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

func TestSigningKeys(t *testing.T) {
	k := testKey(t)
	if kid := KeyID(&k.PublicKey); !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(kid) || kid != KeyID(&k.PublicKey) {
		t.Errorf("KeyID = %q, want 16 stable hex digits", kid)
	}
	if KeyID(&k.PublicKey) == KeyID(&testKey(t).PublicKey) {
		t.Error("two keys share a key id")
	}
	sec1, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseSigningKey(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}))
	if err != nil || !back.Equal(k) {
		t.Errorf("SEC 1 PEM: %v", err)
	}

	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKCS8PrivateKey(p384)
	p384SEC1, _ := x509.MarshalECPrivateKey(p384)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 1024)
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(rsaKey)
	for name, in := range map[string][]byte{
		"not PEM":        []byte("hello"),
		"P-384 PKCS#8":   pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p384DER}),
		"P-384 SEC 1":    pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: p384SEC1}),
		"RSA PKCS#8":     pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaDER}),
		"PEM of garbage": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("garbage")}),
	} {
		if _, err := ParseSigningKey(in); err == nil {
			t.Errorf("ParseSigningKey(%s) accepted it", name)
		}
	}
}

// decodeSegment decodes segment i (0 header, 1 payload) of a JWT.
func decodeSegment(t *testing.T, tok string, i int) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[i])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func encodeSegment(t *testing.T, m map[string]any) string {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// tamper rewrites a token's payload, keeping its header and signature.
func tamper(t *testing.T, tok string, edit func(map[string]any)) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	p := decodeSegment(t, tok, 1)
	edit(p)
	parts[1] = encodeSegment(t, p)
	return strings.Join(parts, ".")
}

// swapHeader replaces a token's header, keeping payload and signature.
func swapHeader(t *testing.T, tok string, h map[string]any) string {
	t.Helper()
	parts := strings.Split(tok, ".")
	parts[0] = encodeSegment(t, h)
	return strings.Join(parts, ".")
}

// withKid adds a kid to an unsigned token's header.
func withKid(t *testing.T, tok, kid string) string {
	t.Helper()
	h := decodeSegment(t, tok, 0)
	h["kid"] = kid
	return swapHeader(t, tok, h)
}

// flip changes every character of a base64url fragment.
func flip(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c == 'A' {
			b[i] = 'B'
		} else {
			b[i] = 'A'
		}
	}
	return string(b)
}

func TestIssueUntilBoundsTheLifetime(t *testing.T) {
	k := testKey(t)
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	i := NewIssuer(KeySigner{Key: k}, "berth", "svc", 5*time.Minute).WithClock(func() time.Time { return now })
	v := NewVerifier("berth", "svc", &k.PublicKey).WithClock(func() time.Time { return now })
	for _, tc := range []struct {
		name     string
		notAfter time.Time
		want     time.Duration
	}{
		{"no bound: the issuer's lifetime", time.Time{}, 5 * time.Minute},
		{"a bound past the lifetime changes nothing", now.Add(time.Hour), 5 * time.Minute},
		{"an earlier bound is the expiry, to the second below", now.Add(90*time.Second + 700*time.Millisecond), 90 * time.Second},
	} {
		tok, c, err := i.IssueUntil(context.Background(), "dev/oidc", []string{"ci"}, pullApp, tc.notAfter)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := c.ExpiresAt.Sub(now); got != tc.want {
			t.Errorf("%s: lifetime %v, want %v", tc.name, got, tc.want)
		}
		back, err := v.Verify(tok)
		if err != nil || len(back.Groups) != 1 || back.Groups[0] != "ci" {
			t.Errorf("%s: verified %+v, %v; want the groups carried", tc.name, back, err)
		}
	}
	if _, _, err := i.IssueUntil(context.Background(), "dev/oidc", nil, pullApp, now.Add(500*time.Millisecond)); !errors.Is(err, ErrNoLifetime) {
		t.Fatalf("a bound within the second: %v, want ErrNoLifetime", err)
	}
}
