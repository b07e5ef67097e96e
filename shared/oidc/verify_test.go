package oidc_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/oidc"
	"github.com/berth-registry/berth/shared/oidc/oidctest"
)

const aud = "https://registry.example.com"

func verifier(o oidc.Options) *oidc.Verifier {
	o.AllowLoopback = true
	return oidc.NewVerifier(o)
}

func trust(i *oidctest.Issuer) oidc.Trust { return oidc.Trust{Issuer: i.URL} }

func TestVerifyAcceptsWellFormedTokens(t *testing.T) {
	srv := oidctest.NewServer(t)
	gh, gl, k8s := srv.Issuer("/github", "RS256"), srv.Issuer("/gitlab", "RS256"), srv.Issuer("/k8s", "ES256")
	v := verifier(oidc.Options{})
	for _, tc := range []struct {
		name string
		iss  *oidctest.Issuer
		tok  string
		sub  string
		cond map[string]string
	}{
		{"GitHub Actions (RS256)", gh, gh.Token(oidctest.GitHub("acme/app", "refs/heads/main", aud)), "repo:acme/app:ref:refs/heads/main",
			map[string]string{"repository": "acme/app", "ref": "refs/heads/*", "repository_id": "123456789"}},
		{"GitLab CI (RS256)", gl, gl.Token(oidctest.GitLab("acme/app", "main", aud)), "project_path:acme/app:ref_type:branch:ref:main",
			map[string]string{"project_path": "acme/*", "ref_protected": "true"}},
		{"Kubernetes service account (ES256)", k8s, k8s.Token(oidctest.Kubernetes("ci", "builder", aud)), "system:serviceaccount:ci:builder",
			map[string]string{"sub": "system:serviceaccount:ci:*"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(t.Context(), tc.tok, trust(tc.iss), time.Now())
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if c.Subject != tc.sub || c.Issuer != tc.iss.URL || !c.HasAudience(aud) || c.HasAudience("other") {
				t.Fatalf("claims = %+v", c)
			}
			if ok, failed := c.Meets(tc.cond); !ok {
				t.Fatalf("conditions %v: %s failed", tc.cond, failed)
			}
			if ok, _ := c.Meets(map[string]string{"sub": "someone-else"}); ok {
				t.Fatal("a condition on another subject held")
			}
		})
	}
}

func TestVerifyRefuses(t *testing.T) {
	srv := oidctest.NewServer(t)
	iss, other := srv.Issuer("/a", "RS256"), srv.Issuer("/b", "RS256")
	v := verifier(oidc.Options{})
	now := time.Now()
	claims := func(edit func(oidctest.Claims)) oidctest.Claims {
		c := oidctest.GitHub("acme/app", "refs/heads/main", aud)
		if edit != nil {
			edit(c)
		}
		return c
	}
	// Warm the cache, so each case below shows what it costs.
	if _, err := v.Verify(t.Context(), iss.Token(claims(nil)), trust(iss), now); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		tok  string
		want error
	}{
		{"another issuer's token (its own key)", other.Token(claims(nil)), oidc.ErrSignature},
		{"iss of another issuer, signed with the trusted key", iss.Token(claims(func(c oidctest.Claims) { c["iss"] = other.URL })), oidc.ErrIssuer},
		{"expired", iss.Token(claims(func(c oidctest.Claims) { c["exp"] = now.Add(-time.Minute).Unix() })), oidc.ErrExpired},
		{"no exp", iss.Token(claims(func(c oidctest.Claims) { c["exp"] = nil })), oidc.ErrExpired},
		{"not yet valid (nbf)", iss.Token(claims(func(c oidctest.Claims) { c["nbf"] = now.Add(5 * time.Minute).Unix() })), oidc.ErrNotYetValid},
		{"issued in the future (iat)", iss.Token(claims(func(c oidctest.Claims) { c["iat"] = now.Add(5 * time.Minute).Unix() })), oidc.ErrNotYetValid},
		{"a key the issuer does not publish", iss.SignWith(oidctest.NewKey("RS256"), claims(nil)), oidc.ErrSignature},
		{"alg none", iss.None(claims(nil)), oidc.ErrAlgorithm},
		{"HS256 keyed with the issuer's public key", iss.HMACWithPublicKey(claims(nil)), oidc.ErrAlgorithm},
		{"an ES256 signature under the RSA key's id", func() string {
			k := iss.Key()
			es := oidctest.NewKey("ES256")
			es.ID = k.ID // a P-256 signature under the RSA key's id
			return iss.SignWith(es, claims(nil))
		}(), oidc.ErrSignature},
		{"a tampered payload", func() string {
			p := strings.Split(iss.Token(claims(nil)), ".")
			q := strings.Split(iss.Token(claims(func(c oidctest.Claims) { c["repository"] = "evil/app" })), ".")
			return p[0] + "." + q[1] + "." + p[2]
		}(), oidc.ErrSignature},
		{"not a JWT", "bt_aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", oidc.ErrMalformed},
		{"too long", strings.Repeat("a", oidc.MaxTokenLength+1), oidc.ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := v.Verify(t.Context(), tc.tok, trust(iss), now); !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
		})
	}
	// Skew: a token just past exp still holds.
	tok := iss.Token(claims(func(c oidctest.Claims) { c["exp"] = now.Add(-oidc.Skew / 2).Unix() }))
	if _, err := v.Verify(t.Context(), tok, trust(iss), now); err != nil {
		t.Fatalf("a token within the skew of its expiry: %v", err)
	}
}

func TestAlgNoneAndHMACNeverFetch(t *testing.T) {
	srv := oidctest.NewServer(t)
	iss := srv.Issuer("/a", "RS256")
	v := verifier(oidc.Options{})
	c := oidctest.GitHub("acme/app", "refs/heads/main", aud)
	for _, tok := range []string{iss.None(c), iss.HMACWithPublicKey(c)} {
		if _, err := oidc.Peek(tok); !errors.Is(err, oidc.ErrAlgorithm) {
			t.Fatalf("Peek = %v, want ErrAlgorithm", err)
		}
		if _, err := v.Verify(t.Context(), tok, trust(iss), time.Now()); !errors.Is(err, oidc.ErrAlgorithm) {
			t.Fatalf("Verify = %v, want ErrAlgorithm", err)
		}
	}
	if n := iss.DiscoveryFetches.Load() + iss.KeyFetches.Load(); n != 0 {
		t.Fatalf("refused tokens caused %d fetches", n)
	}
}

func TestKeyRotationAndUnknownKeyRateLimit(t *testing.T) {
	srv := oidctest.NewServer(t)
	iss := srv.Issuer("/a", "RS256")
	c := oidctest.Kubernetes("ci", "builder", aud)

	v := verifier(oidc.Options{RefreshEvery: time.Hour})
	if _, err := v.Verify(t.Context(), iss.Token(c), trust(iss), time.Now()); err != nil {
		t.Fatal(err)
	}
	// Made-up key ids: one refetch at most within RefreshEvery.
	for range 20 {
		if _, err := v.Verify(t.Context(), iss.SignWith(oidctest.NewKey("ES256"), c), trust(iss), time.Now()); !errors.Is(err, oidc.ErrSignature) {
			t.Fatalf("unknown key: %v", err)
		}
	}
	if n := iss.KeyFetches.Load(); n != 1 {
		t.Fatalf("key set fetched %d times for 1 good and 20 unknown-key tokens within the refresh interval, want 1", n)
	}

	// Rotation: the new key id is unknown, so the set is refetched.
	v = verifier(oidc.Options{RefreshEvery: time.Millisecond})
	if _, err := v.Verify(t.Context(), iss.Token(c), trust(iss), time.Now()); err != nil {
		t.Fatal(err)
	}
	old := iss.Token(c)
	time.Sleep(2 * time.Millisecond)
	iss.Rotate("ES256")
	if _, err := v.Verify(t.Context(), iss.Token(c), trust(iss), time.Now()); err != nil {
		t.Fatalf("a token signed with the rotated-in key: %v", err)
	}
	if _, err := v.Verify(t.Context(), old, trust(iss), time.Now()); !errors.Is(err, oidc.ErrSignature) {
		t.Fatalf("a token signed with the rotated-out key: %v, want ErrSignature", err)
	}
}

func TestDiscoveryIsChecked(t *testing.T) {
	srv := oidctest.NewServer(t)
	c := oidctest.GitHub("acme/app", "refs/heads/main", aud)
	localhost := strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)
	for _, tc := range []struct {
		name  string
		doc   map[string]any
		hosts []string
		ok    bool
	}{
		{"jwks_uri on another host", map[string]any{"jwks_uri": localhost + "/d/keys"}, nil, false},
		{"jwks_uri on a host the rule allows", map[string]any{"jwks_uri": localhost + "/d/keys"}, []string{"localhost"}, true},
		{"jwks_uri over plain http off loopback", map[string]any{"jwks_uri": "http://keys.example.com/keys"}, []string{"keys.example.com"}, false},
		{"jwks_uri with a query", map[string]any{"jwks_uri": srv.URL + "/d/keys?x=1"}, nil, false},
		{"discovery names another issuer", map[string]any{"issuer": "https://evil.example.com"}, nil, false},
		{"discovery document over the size bound", map[string]any{"pad": strings.Repeat("x", 200<<10)}, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			iss := srv.Issuer("/d", "ES256")
			iss.SetDiscovery(tc.doc)
			v := verifier(oidc.Options{})
			_, err := v.Verify(t.Context(), iss.Token(c), oidc.Trust{Issuer: iss.URL, JWKSHosts: tc.hosts}, time.Now())
			if tc.ok && err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !tc.ok && !errors.Is(err, oidc.ErrUnavailable) {
				t.Fatalf("Verify = %v, want ErrUnavailable", err)
			}
		})
	}
}

func TestFetchOverTLSAndAddressGuard(t *testing.T) {
	srv := oidctest.NewTLSServer(t)
	iss := srv.Issuer("/t", "ES256")
	tok := iss.Token(oidctest.GitHub("acme/app", "refs/heads/main", aud))
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	ok := oidc.NewVerifier(oidc.Options{AllowLoopback: true, RootCAs: roots})
	if _, err := ok.Verify(t.Context(), tok, trust(iss), time.Now()); err != nil {
		t.Fatalf("https issuer on loopback, loopback allowed: %v", err)
	}
	// The same https issuer without the loopback allowance: the URL
	// passes, the connection does not.
	guarded := oidc.NewVerifier(oidc.Options{RootCAs: roots})
	if _, err := guarded.Verify(t.Context(), tok, trust(iss), time.Now()); !errors.Is(err, oidc.ErrUnavailable) || !strings.Contains(err.Error(), "not allowed") {
		t.Fatalf("https issuer on loopback, loopback not allowed: %v", err)
	}
	if iss.DiscoveryFetches.Load() != 1 {
		t.Fatalf("the guarded verifier reached the issuer (%d discovery fetches)", iss.DiscoveryFetches.Load())
	}
}

func TestFetchTimeoutAndRedirect(t *testing.T) {
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(3 * time.Second):
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	redirect := httptest.NewServer(http.RedirectHandler("http://169.254.169.254/latest/meta-data/", http.StatusFound))
	defer redirect.Close()
	srv := oidctest.NewServer(t)
	tok := srv.Issuer("/x", "RS256").Token(oidctest.GitHub("acme/app", "refs/heads/main", aud))
	v := verifier(oidc.Options{Timeout: 300 * time.Millisecond})
	for _, base := range []string{slow.URL, redirect.URL} {
		start := time.Now()
		_, err := v.Verify(context.Background(), tok, oidc.Trust{Issuer: base}, time.Now())
		if !errors.Is(err, oidc.ErrUnavailable) {
			t.Fatalf("%s: Verify = %v, want ErrUnavailable", base, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("%s: took %v, past the fetch timeout", base, d)
		}
	}
}

func TestCheckIssuer(t *testing.T) {
	for _, tc := range []struct {
		url      string
		loopback bool
		ok       bool
	}{
		{"https://token.actions.githubusercontent.com", false, true},
		{"https://gitlab.com", false, true},
		{"https://oidc.eks.eu-west-1.amazonaws.com/id/ABCDEF", false, true},
		{"https://tenant.auth0.com/", false, true},
		{"http://token.actions.githubusercontent.com", false, false},
		{"http://127.0.0.1:8080/github", false, false},
		{"http://127.0.0.1:8080/github", true, true},
		{"http://localhost:8080", true, true},
		{"http://10.0.0.1", true, false},
		{"https://user:pass@issuer.example.com", false, false},
		{"https://issuer.example.com/?next=/x", false, false},
		{"https://issuer.example.com/#x", false, false},
		{"https://127.0.0.1:9001/2018-06-01/runtime/invocation/next?", false, false},
		{"ftp://issuer.example.com", false, false},
		{"/relative", false, false},
		{"https://" + strings.Repeat("a", 300) + ".com", false, false},
	} {
		_, err := oidc.CheckIssuer(tc.url, tc.loopback)
		if (err == nil) != tc.ok {
			t.Errorf("CheckIssuer(%q, loopback=%v) = %v, want ok=%v", tc.url, tc.loopback, err, tc.ok)
		}
	}
}

func TestPublicAddress(t *testing.T) {
	for _, tc := range []struct {
		addr     string
		loopback bool
		ok       bool
	}{
		{"140.82.112.3", false, true},
		{"2606:50c0:8000::154", false, true},
		{"169.254.169.254", false, false}, // instance metadata
		{"169.254.170.2", false, false},   // container credentials
		{"fd00:ec2::254", false, false},   // instance metadata over IPv6
		{"127.0.0.1", false, false},       // the Lambda runtime API lives here
		{"127.0.0.1", true, true},
		{"::1", true, true},
		{"10.1.2.3", true, false},
		{"172.16.0.1", false, false},
		{"192.168.1.1", false, false},
		{"100.64.0.1", false, false},
		{"0.0.0.0", false, false},
		{"::ffff:169.254.169.254", false, false},
		{"64:ff9b::a9fe:a9fe", false, false},
		{"224.0.0.1", false, false},
	} {
		if got := oidc.PublicAddress(netip.MustParseAddr(tc.addr), tc.loopback); got != tc.ok {
			t.Errorf("PublicAddress(%s, loopback=%v) = %v, want %v", tc.addr, tc.loopback, got, tc.ok)
		}
	}
}
