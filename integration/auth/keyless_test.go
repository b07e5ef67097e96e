package auth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/oidc/oidctest"
	"github.com/berth-registry/berth/shared/store"
)

// keyless is a registry whose tenancies trust a local OIDC issuer for
// GitHub-, GitLab- and Kubernetes-shaped tokens, through federation
// rules written with the admin API.
type keyless struct {
	*registry
	gh, gl, k8s, stranger *oidctest.Issuer
}

// The rules' audiences: GitHub's is the registry's URL (as docs/keyless.md
// suggests), the others a name.
const (
	gitlabAudience = "berth"
	k8sAudience    = "berth-pull"
)

func startKeyless(t *testing.T, backend string) *keyless {
	r := start(t, backend)
	srv := oidctest.NewServer(t)
	k := &keyless{registry: r, gh: srv.Issuer("/github", "RS256"), gl: srv.Issuer("/gitlab", "ES256"),
		k8s: srv.Issuer("/k8s", "RS256"), stranger: srv.Issuer("/stranger", "RS256")}
	ctx, ids, now := context.Background(), r.local.Stores.IDs, time.Now().UTC()
	for _, ten := range []string{"dev", "other"} {
		if err := ids.PutGroup(ctx, store.Group{Tenancy: ten, Name: "ci", Created: now}); err != nil {
			t.Fatal(err)
		}
		if err := ids.PutPolicy(ctx, store.Policy{Tenancy: ten, Name: "ci", Updated: now,
			Statements: []string{"allow group ci to manage repos in tenancy where target.repo.name = /keyless-*/"}}); err != nil {
			t.Fatal(err)
		}
	}
	k.rule("dev/admin", "dev", map[string]any{"name": "gha", "issuer": k.gh.URL, "audience": r.base, "group": "ci",
		"claims": map[string]string{"repository": "acme/app", "ref": "refs/heads/main"}})
	k.rule("dev/admin", "dev", map[string]any{"name": "gitlab", "issuer": k.gl.URL, "audience": gitlabAudience, "group": "ci",
		"claims": map[string]string{"project_path": "acme/*", "ref_protected": "true"}})
	k.rule("dev/admin", "dev", map[string]any{"name": "k8s", "issuer": k.k8s.URL, "audience": k8sAudience, "group": "ci",
		"claims": map[string]string{"sub": "system:serviceaccount:ci:builder"}, "maxLifetimeSeconds": 120})
	// Tenancy other trusts the same GitHub issuer for another repository.
	k.rule("other/root", "other", map[string]any{"name": "gha", "issuer": k.gh.URL, "audience": r.base, "group": "ci",
		"claims": map[string]string{"repository": "evil/*"}})
	return k
}

// rule creates a federation rule through the admin API.
func (k *keyless) rule(as, tenancy string, body map[string]any) {
	k.t.Helper()
	k.create(as, "/api/tenancies/"+tenancy+"/federation-rules", body)
}

// create POSTs body as JSON to an admin API collection as login as,
// which must answer 201.
func (r *registry) create(as, path string, body map[string]any) {
	r.t.Helper()
	b, _ := json.Marshal(body)
	res := client{r, r.as(as), basicMode}.do("POST", path, b, http.Header{"Content-Type": {"application/json"}})
	if res.Status != http.StatusCreated {
		r.t.Fatalf("POST %s %v: %v", path, body["name"], res)
	}
}

func oidcLogin(tenancy, token string) who { return who{tenancy + "/oidc", token} }

// exchange is an RFC 8693 token exchange at /token.
func (k *keyless) exchange(tenancy, token, scope string) (*response, map[string]any) {
	k.t.Helper()
	form := url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {token},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:id_token"},
		"audience":           {tenancy},
		"scope":              {scope},
	}
	res := k.send("POST", "/token", []byte(form.Encode()), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
	var body map[string]any
	_ = json.Unmarshal(res.Body, &body)
	return res, body
}

// claimsOf decodes a JWT's claims without checking it.
func claimsOf(t *testing.T, tok string) map[string]any {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", tok)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// accessOf is a registry token's access claim as Docker scopes.
func accessOf(t *testing.T, claims map[string]any) string {
	t.Helper()
	b, _ := json.Marshal(claims["access"])
	var as []struct {
		Type, Name string
		Actions    []string
	}
	if err := json.Unmarshal(b, &as); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range as {
		out = append(out, a.Type+":"+a.Name+":"+strings.Join(a.Actions, ","))
	}
	return strings.Join(out, " ")
}

func TestKeylessLoginAndPush(t *testing.T) {
	onBackends(t, func(t *testing.T, backend string) {
		k := startKeyless(t, backend)
		gh := k.gh.Token(oidctest.GitHub("acme/app", "refs/heads/main", k.base))
		gl := k.gl.Token(oidctest.GitLab("acme/app", "main", gitlabAudience))
		sa := k.k8s.Token(oidctest.Kubernetes("ci", "builder", k8sAudience))

		t.Run("GitHub Actions: docker's token flow pushes and pulls", func(t *testing.T) {
			c := client{k.registry, oidcLogin("dev", gh), bearerMode}
			if res := k.tokenResponse("", c.who); res.Status != http.StatusOK {
				t.Fatalf("login (GET /token without scope): %v", res)
			}
			im := newImage("gha")
			c.pushImage("dev/keyless-gha", "1", im)
			if res := c.do("GET", "/v2/dev/keyless-gha/manifests/1", nil, nil); res.Status != http.StatusOK || string(res.Body) != string(im.manifest) {
				t.Fatalf("pull back: %v", res)
			}
			if res := c.do("GET", "/v2/dev/team-app/manifests/1", nil, nil); res.Status != http.StatusUnauthorized {
				t.Fatalf("a repository the group's policy does not cover: %v, want 401", res)
			}
		})
		t.Run("GitLab CI: Basic on every /v2 request through the authorizer", func(t *testing.T) {
			c := client{k.registry, oidcLogin("dev", gl), basicMode}
			c.pushImage("dev/keyless-gitlab", "1", newImage("gitlab"))
			if res := c.do("GET", "/v2/dev/keyless-gitlab/tags/list", nil, nil); res.Status != http.StatusOK {
				t.Fatalf("tags: %v", res)
			}
			if msg := checkDenied(c.do("PUT", "/v2/dev/other-repo/manifests/1", newImage("x").manifest, http.Header{"Content-Type": {manifestType}})); msg != "" {
				t.Fatalf("push outside the policy: %s", msg)
			}
			if res := c.do("GET", "/api/tenancies/dev/users", nil, nil); res.Status != http.StatusUnauthorized {
				t.Fatalf("the admin API with a keyless login: %v, want 401", res)
			}
		})
		t.Run("Kubernetes: token exchange, then the registry token as the password", func(t *testing.T) {
			res, body := k.exchange("dev", sa, "repository:dev/keyless-k8s:pull,push")
			if res.Status != http.StatusOK {
				t.Fatalf("exchange: %v", res)
			}
			if body["issued_token_type"] != "urn:ietf:params:oauth:token-type:access_token" || body["token_type"] != "Bearer" ||
				body["scope"] != "repository:dev/keyless-k8s:pull,push" {
				t.Fatalf("exchange answered %s", res.Body)
			}
			tok := body["access_token"].(string)
			if in := body["expires_in"].(float64); in <= 0 || in > 120 {
				t.Fatalf("expires_in %v, want at most the rule's 120 s", in)
			}
			c := claimsOf(t, tok)
			if c["sub"] != "dev/oidc" || c["exp"].(float64)-c["iat"].(float64) > 120 {
				t.Fatalf("registry token claims %v", c)
			}
			bearer := client{k.registry, who{}, basicMode}
			im := newImage("k8s")
			h := bearerHeader(tok)
			for _, blob := range [][]byte{im.config, im.layer} {
				if res := bearer.r.send("POST", "/v2/dev/keyless-k8s/blobs/uploads/?digest="+url.QueryEscape(string(digestOf(blob))), blob, h); res.Status != http.StatusCreated {
					t.Fatalf("push blob with the exchanged token: %v", res)
				}
			}
			h.Set("Content-Type", manifestType)
			if res := k.send("PUT", "/v2/dev/keyless-k8s/manifests/1", im.manifest, h); res.Status != http.StatusCreated {
				t.Fatalf("push manifest with the exchanged token: %v", res)
			}
			// containerd presents the provider's credentials as Basic at
			// /token: the registry token is reissued, never widened.
			pass := oidcLogin("dev", tok)
			pull := k.token("", pass, "repository:dev/keyless-k8s:pull", "repository:dev/keyless-other:pull,push")
			pc := claimsOf(t, pull)
			if access := accessOf(t, pc); access != "repository:dev/keyless-k8s:pull" {
				t.Fatalf("reissued access %s, want pull on dev/keyless-k8s only", access)
			}
			if pc["exp"].(float64) > c["exp"].(float64) {
				t.Fatalf("the reissued token outlives the one presented: %v > %v", pc["exp"], c["exp"])
			}
			if res := k.tokenResponse("", oidcLogin("other", tok), "repository:dev/keyless-k8s:pull"); res.Status != http.StatusUnauthorized {
				t.Fatalf("the registry token under another tenancy's login: %v", res)
			}
			if res, _ := k.exchange("dev", tok, ""); res.Status != http.StatusBadRequest {
				t.Fatalf("exchanging a registry token: %v, want 400", res)
			}
		})
		t.Run("audit entries name the issuer and subject", func(t *testing.T) {
			es, err := k.local.Stores.IDs.ListAudit(context.Background(), "dev", "", 100)
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{
				"login":          "issuer=" + k.gh.URL + " subject=repo:acme/app:ref:refs/heads/main rules=gha",
				"token exchange": "issuer=" + k.k8s.URL + " subject=system:serviceaccount:ci:builder rules=k8s",
			}
			for _, e := range es {
				if e.Principal == "dev/oidc" && want[e.Action] == e.Detail {
					delete(want, e.Action)
				}
			}
			if len(want) > 0 {
				t.Fatalf("audit trail lacks %v; it holds %+v", want, es)
			}
		})
	})
}

func TestKeylessRefusals(t *testing.T) {
	onBackends(t, func(t *testing.T, backend string) {
		k := startKeyless(t, backend)
		now := time.Now()
		github := func(edit func(oidctest.Claims)) oidctest.Claims {
			c := oidctest.GitHub("acme/app", "refs/heads/main", k.base)
			if edit != nil {
				edit(c)
			}
			return c
		}
		set := func(key string, v any) func(oidctest.Claims) { return func(c oidctest.Claims) { c[key] = v } }
		// The positive control: the same token shape is accepted.
		if res := k.tokenResponse("", oidcLogin("dev", k.gh.Token(github(nil)))); res.Status != http.StatusOK {
			t.Fatalf("the matching token: %v", res)
		}
		cases := []struct {
			name, tenancy, token, msg string
		}{
			{"wrong audience", "dev", k.gh.Token(github(set("aud", "https://other-registry.example.com"))), "audience"},
			{"wrong issuer (one no rule trusts)", "dev", k.stranger.Token(github(nil)), "trusts the OIDC token's issuer"},
			{"iss of a trusted issuer, signed by another", "dev", k.stranger.Token(github(set("iss", k.gh.URL))), "does not verify"},
			{"expired", "dev", k.gh.Token(github(set("exp", now.Add(-2*time.Minute).Unix()))), "expired"},
			{"not yet valid", "dev", k.gh.Token(github(set("nbf", now.Add(10*time.Minute).Unix()))), "not valid yet"},
			{"unknown key", "dev", k.gh.SignWith(oidctest.NewKey("ES256"), github(nil)), "does not verify"},
			{"alg none", "dev", k.gh.None(github(nil)), "algorithm"},
			{"HMAC signed with the issuer's public key", "dev", k.gh.HMACWithPublicKey(github(nil)), "algorithm"},
			{"claims not matching (another branch)", "dev", k.gh.Token(github(set("ref", "refs/heads/dev"))), "claims meet no federation rule"},
			{"claims not matching (another repository)", "dev", k.gh.Token(oidctest.GitHub("acme/other", "refs/heads/main", k.base)), "claims meet no federation rule"},
			{"a rule in another tenancy", "dev", k.gh.Token(oidctest.GitHub("evil/app", "refs/heads/main", k.base)), "claims meet no federation rule"},
			{"dev's token at tenancy other", "other", k.gh.Token(github(nil)), "claims meet no federation rule"},
			{"not a JWT", "dev", "bt_aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "must be an OIDC ID token"},
			{"a Kubernetes token of another service account", "dev", k.k8s.Token(oidctest.Kubernetes("ci", "deployer", k8sAudience)), "claims meet no federation rule"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				w := oidcLogin(tc.tenancy, tc.token)
				res := k.tokenResponse("", w)
				if res.Status != http.StatusUnauthorized || !strings.Contains(string(res.Body), tc.msg) {
					t.Fatalf("GET /token: %v, want 401 saying %q", res, tc.msg)
				}
				// The authorizer refuses it on /v2 routes too.
				if res := (client{k.registry, w, basicMode}).do("GET", "/v2/"+tc.tenancy+"/keyless-x/tags/list", nil, nil); res.Status != http.StatusUnauthorized {
					t.Fatalf("Basic on /v2: %v, want 401", res)
				}
				if res, _ := k.exchange(tc.tenancy, tc.token, "repository:dev/keyless-x:pull"); res.Status != http.StatusBadRequest ||
					!strings.Contains(string(res.Body), `"error":"invalid_request"`) {
					t.Fatalf("token exchange: %v, want 400 invalid_request", res)
				}
			})
		}
		t.Run("the evil repository logs in to its own tenancy, and reaches nothing of dev", func(t *testing.T) {
			w := oidcLogin("other", k.gh.Token(oidctest.GitHub("evil/app", "refs/heads/main", k.base)))
			tok := k.token("", w, "repository:dev/keyless-gha:pull,push", "repository:other/keyless-x:pull")
			if access := accessOf(t, claimsOf(t, tok)); access != "repository:other/keyless-x:pull" {
				t.Fatalf("access %s, want pull on other/keyless-x only", access)
			}
		})
	})
}

// TestKeylessTokenLifetimeAndKeyRotation runs on the embedded backend
// only: what it checks lives in the token endpoint and the key cache.
func TestKeylessTokenLifetimeAndKeyRotation(t *testing.T) {
	k := startKeyless(t, "embedded")
	first := time.Now()
	// An OIDC token with 40 s left: the registry token (15 min by
	// configuration) lives no longer.
	short := k.gh.Token(func() oidctest.Claims {
		c := oidctest.GitHub("acme/app", "refs/heads/main", k.base)
		c["exp"] = time.Now().Add(40 * time.Second).Unix()
		return c
	}())
	tok := k.token("", oidcLogin("dev", short), "repository:dev/keyless-a:pull")
	if c := claimsOf(t, tok); c["exp"].(float64) > float64(time.Now().Add(40*time.Second).Unix()) {
		t.Fatalf("registry token exp %v outlives the OIDC token's", c["exp"])
	}
	res := k.tokenResponse("", oidcLogin("dev", short))
	var tr struct {
		ExpiresIn int `json:"expires_in"`
	}
	if json.Unmarshal(res.Body, &tr) != nil || tr.ExpiresIn > 40 || tr.ExpiresIn <= 0 {
		t.Fatalf("expires_in %d, want at most 40: %v", tr.ExpiresIn, res)
	}

	// Rotation: the issuer replaces its key; a token signed with the new
	// one names a key id the registry has not seen, and it refetches the
	// key set (at most every 10 s per issuer, so wait that out).
	oldKey := k.gh.Key()
	k.gh.Rotate("ES256")
	time.Sleep(time.Until(first.Add(11 * time.Second)))
	fresh := k.gh.Token(oidctest.GitHub("acme/app", "refs/heads/main", k.base))
	if res := k.tokenResponse("", oidcLogin("dev", fresh)); res.Status != http.StatusOK {
		t.Fatalf("a token signed with the rotated-in key: %v", res)
	}
	stale := k.gh.SignWith(oldKey, oidctest.GitHub("acme/app", "refs/heads/main", k.base))
	if res := k.tokenResponse("", oidcLogin("dev", stale)); res.Status != http.StatusUnauthorized {
		t.Fatalf("a token signed with the rotated-out key: %v, want 401", res)
	}
	if n := k.gh.KeyFetches.Load(); n != 2 {
		t.Fatalf("the key set was fetched %d times, want 2 (first login, rotation)", n)
	}
}

func digestOf(b []byte) digest.Digest { return digest.FromBytes(b) }
