package pullthrough

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/berth-registry/berth/integration/harness"
	"github.com/berth-registry/berth/shared/emulator"
)

// distributionAuth is the distribution registry's auth section: token
// authentication trusting the test's token server (after
// emulator.DistributionConfig: filesystem storage, blob GETs answered
// with the bytes, not a redirect).
const distributionAuth = `auth:
  token:
    realm: %s/token
    service: distribution-test
    issuer: berth-test-token-server
    jwks: %s
`

// startDistribution starts the distribution registry as an upstream,
// with token authentication on: a token server of the test's own
// (ES256 tokens, a JWKS the registry trusts) that grants whatever is
// asked to one login, "mirror" with a password unique to the test. The
// cache reaches it through a counting proxy.
func startDistribution(t *testing.T) *upstream {
	t.Helper()
	bin := emulator.Distribution(t)
	password := "dist-" + randomHex(t, 12)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// One address serves the token realm and (proxied) the registry:
	// clients such as go-containerregistry accept a realm on a loopback
	// address only on the registry's own host:port.
	c := &counter{}
	var registry atomic.Pointer[httputil.ReverseProxy]
	mux := http.NewServeMux()
	mux.Handle("/token", tokenServer(t, key, "mirror", password))
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { registry.Load().ServeHTTP(w, r) }))
	host := harness.Serve(t, c.wrap(mux))

	dir := t.TempDir()
	jwks := filepath.Join(dir, "jwks.json")
	pub, err := key.PublicKey.Bytes() // 0x04, X, Y
	if err != nil {
		t.Fatal(err)
	}
	writeJSON(t, jwks, map[string]any{"keys": []map[string]string{{
		"kty": "EC", "crv": "P-256", "kid": "test-key", "alg": "ES256", "use": "sig",
		"x": b64(pub[1:33]), "y": b64(pub[33:65]),
	}}})
	addr := freeAddr(t)
	cfg := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfg, []byte(emulator.DistributionConfig(filepath.Join(dir, "storage"), addr, "warn")+fmt.Sprintf(distributionAuth, "http://"+host, jwks)), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", cfg)
	logs := &harness.Logs{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("distribution registry's log:\n%s", logs.Tail(8<<10))
		}
	})
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if res, err := http.Get("http://" + addr + "/v2/"); err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusUnauthorized {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the distribution registry did not answer on %s:\n%s", addr, logs.Tail(4<<10))
		}
	}
	target, _ := url.Parse("http://" + addr)
	registry.Store(httputil.NewSingleHostReverseProxy(target))
	return &upstream{url: "http://" + host, host: host, user: "mirror", password: password,
		push: &authn.Basic{Username: "mirror", Password: password}, counter: c}
}

// tokenServer is a Docker token server: Basic user:password in, an
// ES256 token granting every scope asked for out.
func tokenServer(t *testing.T, key *ecdsa.PrivateKey, user, password string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != password {
			http.Error(w, `{"details":"bad credentials"}`, http.StatusUnauthorized)
			return
		}
		var access []map[string]any
		for _, scope := range r.URL.Query()["scope"] {
			parts := strings.Split(scope, ":")
			if len(parts) != 3 {
				continue
			}
			access = append(access, map[string]any{"type": parts[0], "name": parts[1], "actions": strings.Split(parts[2], ",")})
		}
		now := time.Now()
		tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
			"iss": "berth-test-token-server", "sub": u, "aud": r.URL.Query().Get("service"),
			"exp": now.Add(5 * time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(),
			"jti": randomHex(t, 8), "access": access,
		})
		tok.Header["kid"] = "test-key"
		s, err := tok.SignedString(key)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"token": s, "access_token": s, "expires_in": 300})
	})
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func writeJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// freeAddr is a 127.0.0.1 address nothing listens on.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
