// Package oidctest is an OpenID Connect issuer for tests: a key set and
// a discovery document served on 127.0.0.1, tokens shaped like GitHub
// Actions', GitLab CI's and Kubernetes service accounts', key rotation,
// and the forged tokens a verifier must refuse.
package oidctest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Server hosts issuers, each under its own path of one 127.0.0.1
// listener (http, or https with NewTLSServer).
type Server struct {
	*httptest.Server
	mu      sync.Mutex
	issuers map[string]*Issuer
}

// NewServer starts an http server on 127.0.0.1, closed with the test.
func NewServer(t testing.TB) *Server { return start(t, false) }

// NewTLSServer starts an https server on 127.0.0.1 (trust s.Certificate()).
func NewTLSServer(t testing.TB) *Server { return start(t, true) }

func start(t testing.TB, tls bool) *Server {
	s := &Server{issuers: map[string]*Issuer{}}
	h := http.HandlerFunc(s.serve)
	if tls {
		s.Server = httptest.NewTLSServer(h)
	} else {
		s.Server = httptest.NewServer(h)
	}
	t.Cleanup(s.Close)
	return s
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var iss *Issuer
	for p, i := range s.issuers {
		if strings.HasPrefix(r.URL.Path, p+"/") {
			iss = i
		}
	}
	s.mu.Unlock()
	if iss == nil {
		http.NotFound(w, r)
		return
	}
	iss.serve(w, r)
}

// Issuer is one issuer: its URL is the server's URL and its path.
type Issuer struct {
	URL  string
	path string
	// Now is the issuer's clock (default time.Now).
	Now func() time.Time

	mu   sync.Mutex
	keys []*Key
	// Discovery, when set, replaces the discovery document's fields.
	discovery map[string]any

	// DiscoveryFetches and KeyFetches count the documents served.
	DiscoveryFetches, KeyFetches atomic.Int64
}

// Key is a signing key.
type Key struct {
	ID     string
	Alg    string // RS256 or ES256
	Signer crypto.Signer
}

// Issuer adds an issuer at path ("/github") with one key of alg.
func (s *Server) Issuer(path, alg string) *Issuer {
	i := &Issuer{URL: s.URL + path, path: path, Now: time.Now}
	i.keys = []*Key{NewKey(alg)}
	s.mu.Lock()
	s.issuers[path] = i
	s.mu.Unlock()
	return i
}

var keyCount atomic.Int64

// NewKey makes a key: RS256 (2048-bit RSA) or ES256 (P-256).
func NewKey(alg string) *Key {
	k := &Key{ID: fmt.Sprintf("key-%d", keyCount.Add(1)), Alg: alg}
	var err error
	switch alg {
	case "RS256":
		k.Signer, err = rsa.GenerateKey(rand.Reader, 2048)
	case "ES256":
		k.Signer, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	default:
		panic("oidctest: no key type for " + alg)
	}
	if err != nil {
		panic(err)
	}
	return k
}

// Key returns the key tokens are signed with now.
func (i *Issuer) Key() *Key {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.keys[0]
}

// Rotate replaces the key set with one new key of alg: tokens signed
// with the old key no longer verify.
func (i *Issuer) Rotate(alg string) *Key {
	k := NewKey(alg)
	i.mu.Lock()
	i.keys = []*Key{k}
	i.mu.Unlock()
	return k
}

// SetDiscovery overrides fields of the discovery document (a foreign
// jwks_uri, a wrong issuer).
func (i *Issuer) SetDiscovery(fields map[string]any) {
	i.mu.Lock()
	i.discovery = fields
	i.mu.Unlock()
}

func (i *Issuer) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch strings.TrimPrefix(r.URL.Path, i.path) {
	case "/.well-known/openid-configuration":
		i.DiscoveryFetches.Add(1)
		doc := map[string]any{
			"issuer": i.URL, "jwks_uri": i.URL + "/keys",
			"response_types_supported":              []string{"id_token"},
			"subject_types_supported":               []string{"public"},
			"id_token_signing_alg_values_supported": []string{"RS256", "ES256"},
		}
		i.mu.Lock()
		for k, v := range i.discovery {
			doc[k] = v
		}
		i.mu.Unlock()
		_ = json.NewEncoder(w).Encode(doc)
	case "/keys":
		i.KeyFetches.Add(1)
		i.mu.Lock()
		keys := make([]map[string]string, 0, len(i.keys))
		for _, k := range i.keys {
			keys = append(keys, JWK(k))
		}
		i.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"keys": keys})
	default:
		http.NotFound(w, r)
	}
}

// JWK is a key's public half as a JWK.
func JWK(k *Key) map[string]string {
	enc := base64.RawURLEncoding.EncodeToString
	switch pub := k.Signer.Public().(type) {
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "kid": k.ID, "use": "sig", "alg": k.Alg,
			"n": enc(pub.N.Bytes()), "e": enc(big.NewInt(int64(pub.E)).Bytes())}
	case *ecdsa.PublicKey:
		b, _ := pub.Bytes()
		return map[string]string{"kty": "EC", "kid": k.ID, "use": "sig", "alg": k.Alg, "crv": "P-256",
			"x": enc(b[1:33]), "y": enc(b[33:])}
	}
	panic("oidctest: unknown key type")
}

// Claims are a token's claims.
type Claims = map[string]any

// base are the claims every token gets unless set: iss, iat, nbf, and
// exp ten minutes on.
func (i *Issuer) base(c Claims) jwt.MapClaims {
	now := i.Now()
	out := jwt.MapClaims{"iss": i.URL, "iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
		"jti": fmt.Sprint(keyCount.Add(1))}
	for k, v := range c {
		if v == nil {
			delete(out, k)
			continue
		}
		out[k] = v
	}
	return out
}

// Token signs claims (over the defaults; a nil value removes one) with
// the issuer's current key.
func (i *Issuer) Token(c Claims) string { return i.SignWith(i.Key(), c) }

// SignWith signs claims with any key (one the issuer does not publish,
// to forge).
func (i *Issuer) SignWith(k *Key, c Claims) string {
	t := jwt.NewWithClaims(jwt.GetSigningMethod(k.Alg), i.base(c))
	t.Header["kid"] = k.ID
	s, err := t.SignedString(k.Signer)
	if err != nil {
		panic(err)
	}
	return s
}

// None is the claims "signed" with alg none and the current key's id.
func (i *Issuer) None(c Claims) string {
	t := jwt.NewWithClaims(jwt.SigningMethodNone, i.base(c))
	t.Header["kid"] = i.Key().ID
	s, err := t.SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		panic(err)
	}
	return s
}

// HMACWithPublicKey signs claims with HS256 keyed by the current key's
// public key (PEM): the algorithm-confusion forgery.
func (i *Issuer) HMACWithPublicKey(c Claims) string {
	der, err := x509.MarshalPKIXPublicKey(i.Key().Signer.Public())
	if err != nil {
		panic(err)
	}
	pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	t := jwt.NewWithClaims(jwt.SigningMethodHS256, i.base(c))
	t.Header["kid"] = i.Key().ID
	s, err := t.SignedString(pemKey)
	if err != nil {
		panic(err)
	}
	return s
}

// GitHub are claims shaped like a GitHub Actions job's ID token
// (the workflow asked for audience aud).
func GitHub(repo, ref, aud string) Claims {
	owner, _, _ := strings.Cut(repo, "/")
	return Claims{
		"sub": "repo:" + repo + ":ref:" + ref, "aud": aud,
		"repository": repo, "repository_owner": owner, "repository_id": "123456789",
		"ref": ref, "ref_type": "branch", "sha": "0123456789abcdef0123456789abcdef01234567",
		"workflow": "release", "event_name": "push", "actor": "octocat", "run_id": "42",
		"job_workflow_ref":   repo + "/.github/workflows/release.yml@" + ref,
		"runner_environment": "github-hosted",
	}
}

// GitLab are claims shaped like a GitLab CI job's id_tokens entry.
func GitLab(project, branch, aud string) Claims {
	ns, _, _ := strings.Cut(project, "/")
	return Claims{
		"sub": "project_path:" + project + ":ref_type:branch:ref:" + branch, "aud": aud,
		"project_path": project, "project_id": "22", "namespace_path": ns, "namespace_id": "7",
		"ref": branch, "ref_type": "branch", "ref_protected": "true", "pipeline_source": "push",
		"user_login": "ci-bot", "environment": "production",
	}
}

// Kubernetes are claims shaped like a projected service account token
// for audience aud.
func Kubernetes(namespace, account, aud string) Claims {
	return Claims{
		"sub": "system:serviceaccount:" + namespace + ":" + account, "aud": []string{aud},
		"kubernetes.io": map[string]any{
			"namespace":      namespace,
			"serviceaccount": map[string]any{"name": account, "uid": "5b0b9c2e-0000-4000-8000-000000000001"},
			"pod":            map[string]any{"name": account + "-7d9f8", "uid": "5b0b9c2e-0000-4000-8000-000000000002"},
		},
	}
}
