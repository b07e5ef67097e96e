package auth

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	berthauth "github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/store"
)

// signingKey is the registry's own token key (the embedded backend keeps
// it in the data directory). Tests use it to mint tokens that differ
// from a real one in exactly one respect, each with a positive control.
func (r *registry) signingKey() *ecdsa.PrivateKey {
	r.t.Helper()
	b, err := os.ReadFile(filepath.Join(r.data, "token-signing-key.pem"))
	if err != nil {
		r.t.Fatalf("the embedded backend's signing key: %v", err)
	}
	k, err := berthauth.ParseSigningKey(b)
	if err != nil {
		r.t.Fatal(err)
	}
	return k
}

// realClaims are the claims of a token /token issues to w for scopes.
func (r *registry) realToken(w who, scopes ...string) (string, map[string]any) {
	r.t.Helper()
	tok := r.token("", w, scopes...)
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[1])
	if err != nil {
		r.t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		r.t.Fatal(err)
	}
	return tok, c
}

// mint signs claims like a real token's (same iss and aud) with ttl.
func (r *registry) mint(iss, aud string, ttl time.Duration, subject string, access ...berthauth.Access) string {
	r.t.Helper()
	i := berthauth.NewIssuer(berthauth.KeySigner{Key: r.signingKey()}, iss, aud, ttl)
	tok, _, err := i.Issue(context.Background(), subject, access)
	if err != nil {
		r.t.Fatal(err)
	}
	return tok
}

func bearerHeader(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

func repoAccess(name string, actions ...string) berthauth.Access {
	return berthauth.Access{Type: "repository", Name: name, Actions: actions}
}

func TestRegistryTokenForOneRepositoryIsRefusedOnAnother(t *testing.T) {
	onBackends(t, registryTokenForOneRepositoryIsRefusedOnAnother)
}

func registryTokenForOneRepositoryIsRefusedOnAnother(t *testing.T, backend string) {
	w := newWorld(t, backend)
	r := w.r
	tok := r.token("", r.as("dev/reader"), appPull)
	if res := r.send("GET", "/v2/dev/app/manifests/v1", nil, bearerHeader(tok)); res.Status != 200 {
		t.Fatalf("control: the token does not pull dev/app: %v", res)
	}
	// The reader may read dev/team-a/app by policy, but not with this token.
	if msg := r.checkChallenge(r.send("GET", "/v2/"+teamRepo+"/manifests/v1", nil, bearerHeader(tok)), teamPull); msg != "" {
		t.Errorf("pull token for dev/app used on %s: %s", teamRepo, msg)
	}
	if msg := r.checkChallenge(r.send("HEAD", "/v2/"+teamRepo+"/blobs/"+w.team.layerD.String(), nil, bearerHeader(tok)), teamPull); msg != "" {
		t.Errorf("pull token for dev/app used on %s's blob: %s", teamRepo, msg)
	}
	if msg := r.checkChallenge(r.send("POST", "/v2/dev/app/blobs/uploads/", nil, bearerHeader(tok)), "repository:dev/app:pull,push"); msg != "" {
		t.Errorf("pull token used to push: %s", msg)
	}
	admin := r.token("", r.as("dev/admin"), "repository:dev/app:pull,push,delete")
	if msg := r.checkChallenge(r.send("DELETE", "/v2/"+teamRepo+"/manifests/v1", nil, bearerHeader(admin)), teamDel); msg != "" {
		t.Errorf("admin's token for dev/app used to delete in %s: %s", teamRepo, msg)
	}
}

func TestForgedRegistryTokensAreRefused(t *testing.T) { onBackends(t, forgedRegistryTokensAreRefused) }

func forgedRegistryTokensAreRefused(t *testing.T, backend string) {
	w := newWorld(t, backend)
	r := w.r
	real, claims := r.realToken(r.as("dev/reader"), appPull)
	iss, _ := claims["iss"].(string)
	aud := service
	key := r.signingKey()
	kid := berthauth.KeyID(&key.PublicKey)
	all := repoAccess("dev/app", "*")
	const target = "/v2/dev/app/manifests/v1"

	// Positive controls: a real token, and one minted with the same key,
	// issuer and audience, pass; each forgery below differs in one way.
	if res := r.send("GET", target, nil, bearerHeader(real)); res.Status != 200 {
		t.Fatalf("control: real token refused: %v", res)
	}
	if res := r.send("DELETE", "/v2/dev/app/manifests/nope", nil, bearerHeader(r.mint(iss, aud, time.Hour, "dev/admin", all))); res.Status != 404 {
		t.Fatalf("control: a correctly minted delete token gets %v, want 404 MANIFEST_UNKNOWN", res)
	}

	pubDER, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	mapClaims := jwt.MapClaims{"iss": iss, "aud": aud, "sub": "dev/admin", "exp": time.Now().Add(time.Hour).Unix(),
		"access": []any{map[string]any{"type": "repository", "name": "dev/app", "actions": []any{"*"}}}}
	sign := func(m jwt.SigningMethod, k any) string {
		tk := jwt.NewWithClaims(m, mapClaims)
		tk.Header["kid"] = kid
		s, err := tk.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	parts := strings.Split(real, ".")
	payload := func(edit func(map[string]any)) string {
		c := map[string]any{}
		for k, v := range claims {
			c[k] = v
		}
		edit(c)
		b, _ := json.Marshal(c)
		return parts[0] + "." + base64.RawURLEncoding.EncodeToString(b) + "." + parts[2]
	}
	for _, tc := range []struct{ name, token string }{
		{"expired (same key, issuer, audience)", r.mint(iss, aud, -time.Hour, "dev/admin", all)},
		{"wrong audience", r.mint(iss, "another-registry", time.Hour, "dev/admin", all)},
		{"wrong issuer", r.mint("someone-else", aud, time.Hour, "dev/admin", all)},
		{"tampered: access widened to *", payload(func(c map[string]any) {
			c["access"] = []any{map[string]any{"type": "repository", "name": "dev/app", "actions": []any{"*"}}}
		})},
		{"tampered: subject changed to the admin", payload(func(c map[string]any) { c["sub"] = "dev/admin" })},
		{"tampered: expiry extended", payload(func(c map[string]any) { c["exp"] = time.Now().Add(24 * time.Hour).Unix() })},
		{"alg none", sign(jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType)},
		{"HS256 keyed with the PEM public key", sign(jwt.SigningMethodHS256, pubPEM)},
		{"HS256 keyed with the DER public key", sign(jwt.SigningMethodHS256, pubDER)},
		{"RS256 under the registry's kid", sign(jwt.SigningMethodRS256, rsaKey)},
		{"signature stripped", parts[0] + "." + parts[1] + "."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, req := range []struct{ method, path, scope string }{
				{"GET", target, appPull},
				{"DELETE", "/v2/dev/app/manifests/v1", "repository:dev/app:delete"},
			} {
				res := r.send(req.method, req.path, nil, bearerHeader(tc.token))
				if msg := r.checkChallenge(res, req.scope); msg != "" {
					t.Errorf("%s %s: %s", req.method, req.path, msg)
				}
			}
		})
	}
	if res := w.r.admin().do("GET", target, nil, nil); res.Status != 200 {
		t.Errorf("dev/app:v1 is gone after the forgeries: %v", res)
	}
}

func TestRevokedExpiredAndUnknownAuthTokensAreRefused(t *testing.T) {
	onBackends(t, revokedExpiredAndUnknownAuthTokensAreRefused)
}

func revokedExpiredAndUnknownAuthTokensAreRefused(t *testing.T, backend string) {
	r := start(t, backend)
	ctx := context.Background()
	revoked := r.addToken("dev/reader", func(rec *store.AuthToken) { rec.Revoked = true })
	expired := r.addToken("dev/reader", func(rec *store.AuthToken) { rec.Expires = time.Now().Add(-time.Minute) })
	deleted := r.addToken("dev/nobody", nil)
	if err := r.local.Stores.IDs.DeleteUser(ctx, "dev", "nobody"); err != nil {
		t.Fatal(err)
	}
	good := r.as("dev/reader")
	if res := r.send("GET", "/v2/", nil, http.Header{"Authorization": {good.basic()}}); res.Status != 200 {
		t.Fatalf("control: a valid token gets %v", res)
	}
	for _, tc := range []struct {
		name string
		w    who
	}{
		{"revoked", who{"dev/reader", revoked}},
		{"expired", who{"dev/reader", expired}},
		{"deleted user", who{"dev/nobody", deleted}},
		{"wrong secret", who{"dev/reader", good.secret[:len(good.secret)-1] + flip(good.secret[len(good.secret)-1])}},
		{"another user's token", who{"dev/admin", good.secret}},
		{"another tenancy's login", who{"other/reader", good.secret}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			auth := http.Header{"Authorization": {tc.w.basic()}}
			if msg := r.checkChallenge(r.send("GET", "/v2/", nil, auth), ""); msg != "" {
				t.Errorf("GET /v2/: %s", msg)
			}
			if msg := r.checkChallenge(r.send("GET", "/v2/dev/app/tags/list", nil, auth), appPull); msg != "" {
				t.Errorf("tags list: %s", msg)
			}
			if res := r.tokenResponse("", tc.w, appPull); res.Status != 401 || res.ErrorCode() != "UNAUTHORIZED" {
				t.Errorf("GET /token: %v, want 401 UNAUTHORIZED (docker login fails)", res)
			}
		})
	}
}

func flip(b byte) string {
	if b == 'a' {
		return "b"
	}
	return "a"
}

func TestOversizedHeadersAreAnsweredCleanly(t *testing.T) {
	onBackends(t, oversizedHeadersAreAnsweredCleanly)
}

func oversizedHeadersAreAnsweredCleanly(t *testing.T, backend string) {
	r := start(t, backend)
	// 9,000 bytes of Authorization: over the authorizer's bound, under
	// API Gateway's 10,240-byte header quota.
	for _, h := range []string{
		"Basic " + strings.Repeat("A", 9000-6),
		"Bearer " + strings.Repeat("e", 9000-7),
	} {
		res := r.send("GET", "/v2/dev/app/manifests/v1", nil, http.Header{"Authorization": {h}})
		if msg := r.checkChallenge(res, appPull); msg != "" {
			t.Errorf("%.12s… (%d bytes): %s", h, len(h), msg)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
			t.Errorf("content type %q, want JSON", ct)
		}
	}
	// A 12 KB header block is over the quota: the gateway's own 431.
	res := r.send("GET", "/v2/", nil, http.Header{"X-Padding": {strings.Repeat("p", 12<<10)}, "Authorization": {r.as("dev/admin").basic()}})
	var body struct {
		Errors []struct{ Code, Message string }
	}
	if res.Status != http.StatusRequestHeaderFieldsTooLarge || json.Unmarshal(res.Body, &body) != nil || len(body.Errors) != 1 || body.Errors[0].Message == "" {
		t.Errorf("12 KB of headers: %v, want 431 with a JSON error", res)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("431 content type %q, want JSON", ct)
	}
}
