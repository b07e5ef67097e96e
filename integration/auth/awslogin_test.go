package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/iamlogin"
	"github.com/berth-registry/berth/shared/iamlogin/iamsign"
	"github.com/berth-registry/berth/shared/iamlogin/ststest"
	"github.com/berth-registry/berth/shared/store"
)

const (
	stsRegion  = "eu-west-1"
	awsAccount = "111122223333"
)

// iamRegistry is a registry that checks AWS IAM logins at a fake STS,
// with role mappings written through the admin API: tenancy dev maps
// the roles ci-* of the account, tenancy other maps other-builder.
type iamRegistry struct {
	*registry
	sts *ststest.Server
	// host is the registry's host as clients reach it: the audience
	// logins are signed for.
	host string
}

func startIAM(t *testing.T, backend string) *iamRegistry {
	sts := ststest.New(t, stsRegion, false)
	r := start(t, backend, func(c *config.Config) {
		// Plain http on the loopback is for tests only (BERTH_OIDC_LOOPBACK).
		c.STSRegion, c.STSEndpoint = stsRegion, sts.URL
	})
	u, _ := url.Parse(r.base)
	ir := &iamRegistry{registry: r, sts: sts, host: u.Host}
	ctx, ids, now := context.Background(), r.local.Stores.IDs, time.Now().UTC()
	for _, ten := range []string{"dev", "other"} {
		if err := ids.PutGroup(ctx, store.Group{Tenancy: ten, Name: "ci", Created: now}); err != nil {
			t.Fatal(err)
		}
		if err := ids.PutPolicy(ctx, store.Policy{Tenancy: ten, Name: "ci", Updated: now,
			Statements: []string{"allow group ci to manage repos in tenancy where target.repo.name = /iam-*/"}}); err != nil {
			t.Fatal(err)
		}
	}
	ir.mapping("dev/admin", "dev", map[string]any{"name": "ci", "role": "arn:aws:iam::" + awsAccount + ":role/ci-*", "group": "ci", "maxLifetimeSeconds": 120})
	ir.mapping("other/root", "other", map[string]any{"name": "builder", "role": "arn:aws:iam::" + awsAccount + ":role/other-builder", "group": "ci"})
	return ir
}

// mapping creates an AWS role mapping through the admin API.
func (r *iamRegistry) mapping(as, tenancy string, body map[string]any) {
	r.t.Helper()
	r.create(as, "/api/tenancies/"+tenancy+"/aws-roles", body)
}

// sign makes a login token as `berth login --aws` does.
func (r *iamRegistry) sign(creds aws.CredentialsProvider, endpoint, region, audience string, at time.Time) string {
	r.t.Helper()
	tok, err := iamsign.Sign(context.Background(), creds, endpoint, region, audience, at)
	if err != nil {
		r.t.Fatal(err)
	}
	return tok
}

func awsLogin(tenancy, token string) who { return who{tenancy + "/aws", token} }

func TestAWSLoginAndPush(t *testing.T) {
	onBackends(t, func(t *testing.T, backend string) {
		r := startIAM(t, backend)
		role := r.sts.Role(awsAccount, "ci-builder", "job-7")
		tok := r.sign(role, r.sts.URL, stsRegion, r.host, time.Now())

		t.Run("GET /token?aws names the STS endpoint and region to sign for", func(t *testing.T) {
			res := r.send("GET", "/token?aws", nil, nil)
			var info struct{ STSEndpoint, Region string }
			if res.Status != http.StatusOK || json.Unmarshal(res.Body, &info) != nil || info.STSEndpoint != r.sts.URL || info.Region != stsRegion {
				t.Fatalf("GET /token?aws: %v", res)
			}
		})
		t.Run("docker's token flow: login, push, pull", func(t *testing.T) {
			c := client{r.registry, awsLogin("dev", tok), bearerMode}
			if res := r.tokenResponse("", c.who); res.Status != http.StatusOK {
				t.Fatalf("login (GET /token without scope): %v", res)
			}
			im := newImage("iam")
			c.pushImage("dev/iam-app", "1", im)
			if res := c.do("GET", "/v2/dev/iam-app/manifests/1", nil, nil); res.Status != http.StatusOK || string(res.Body) != string(im.manifest) {
				t.Fatalf("pull back: %v", res)
			}
			claims := claimsOf(t, r.token("", c.who, "repository:dev/iam-app:pull"))
			if claims["sub"] != "dev/aws" || claims["exp"].(float64)-claims["iat"].(float64) > 120 {
				t.Fatalf("registry token claims %v, want dev/aws living at most the mapping's 120 s", claims)
			}
			if res := c.do("GET", "/v2/dev/team-app/manifests/1", nil, nil); res.Status != http.StatusUnauthorized {
				t.Fatalf("a repository the group's policy does not cover: %v, want 401", res)
			}
		})
		t.Run("Basic on every /v2 request through the authorizer; never the admin API", func(t *testing.T) {
			c := client{r.registry, awsLogin("dev", tok), basicMode}
			c.pushImage("dev/iam-basic", "1", newImage("basic"))
			if msg := checkDenied(c.do("PUT", "/v2/dev/other-repo/manifests/1", newImage("x").manifest, http.Header{"Content-Type": {manifestType}})); msg != "" {
				t.Fatalf("push outside the policy: %s", msg)
			}
			if res := c.do("GET", "/api/tenancies/dev/users", nil, nil); res.Status != http.StatusUnauthorized {
				t.Fatalf("the admin API with an AWS login: %v, want 401", res)
			}
		})
		t.Run("the token-exchange grant", func(t *testing.T) {
			form := url.Values{
				"grant_type": {"urn:ietf:params:oauth:grant-type:token-exchange"}, "subject_token": {tok},
				"subject_token_type": {"urn:berth:params:oauth:token-type:aws-login"}, "audience": {"dev"},
				"scope": {"repository:dev/iam-app:pull"},
			}
			res := r.send("POST", "/token", []byte(form.Encode()), http.Header{"Content-Type": {"application/x-www-form-urlencoded"}})
			var body map[string]any
			if res.Status != http.StatusOK || json.Unmarshal(res.Body, &body) != nil || body["scope"] != "repository:dev/iam-app:pull" {
				t.Fatalf("exchange: %v", res)
			}
		})
		t.Run("audit entries name the caller, its role and the mapping", func(t *testing.T) {
			es, err := r.local.Stores.IDs.ListAudit(context.Background(), "dev", "", 100)
			if err != nil {
				t.Fatal(err)
			}
			want := "caller=arn:aws:sts::" + awsAccount + ":assumed-role/ci-builder/job-7 role=arn:aws:iam::" + awsAccount + ":role/ci-builder mappings=ci"
			for _, e := range es {
				if e.Principal == "dev/aws" && e.Action == "login" && e.Detail == want {
					return
				}
			}
			t.Fatalf("audit trail lacks the login %q; it holds %+v", want, es)
		})
	})
}

func TestAWSLoginRefusals(t *testing.T) {
	onBackends(t, func(t *testing.T, backend string) {
		r := startIAM(t, backend)
		now := time.Now()
		role := r.sts.Role(awsAccount, "ci-builder", "job-7")
		if res := r.tokenResponse("", awsLogin("dev", r.sign(role, r.sts.URL, stsRegion, r.host, now))); res.Status != http.StatusOK {
			t.Fatalf("the positive control: %v", res)
		}
		tampered := func(tok string, edit func(*iamlogin.Request)) string {
			b, _ := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, iamlogin.Prefix))
			var req iamlogin.Request
			if err := json.Unmarshal(b, &req); err != nil {
				t.Fatal(err)
			}
			edit(&req)
			return req.Encode()
		}
		cases := []struct {
			name, tenancy, token, msg string
			asksSTS                   bool
		}{
			{"signed for another host", "dev", r.sign(role, "https://sts.evil.example.com", stsRegion, r.host, now), "another STS endpoint or region", false},
			{"signed for another host, the host header rewritten", "dev",
				tampered(r.sign(role, "https://sts.evil.example.com", stsRegion, r.host, now), func(q *iamlogin.Request) { q.Host = strings.TrimPrefix(r.sts.URL, "http://") }),
				"STS refused", true},
			{"signed for another region", "dev", r.sign(role, r.sts.URL, "us-east-1", r.host, now), "another STS endpoint or region", false},
			{"signed for another registry (replayed by it)", "dev", r.sign(role, r.sts.URL, stsRegion, "evil.example.com", now), "another registry", false},
			{"replayed after 20 minutes", "dev", r.sign(role, r.sts.URL, stsRegion, r.host, now.Add(-20*time.Minute)), "expired", false},
			{"a signature tampered with", "dev", tampered(r.sign(role, r.sts.URL, stsRegion, r.host, now), func(q *iamlogin.Request) {
				q.Authorization = q.Authorization[:len(q.Authorization)-1] + map[bool]string{true: "1", false: "0"}[strings.HasSuffix(q.Authorization, "0")]
			}), "STS refused", true},
			{"an unmapped role", "dev", r.sign(r.sts.Role(awsAccount, "deployer", "session-1"), r.sts.URL, stsRegion, r.host, now), "no AWS role mapping of tenancy dev names role arn:aws:iam::" + awsAccount + ":role/deployer", true},
			{"the mapped role's name in another account", "dev", r.sign(r.sts.Role("444455556666", "ci-builder", "session-1"), r.sts.URL, stsRegion, r.host, now), "no AWS role mapping", true},
			{"an IAM user of the role's name", "dev", r.sign(r.sts.User(awsAccount, "ci-builder"), r.sts.URL, stsRegion, r.host, now), "only IAM roles", true},
			{"a role mapped in another tenancy", "dev", r.sign(r.sts.Role(awsAccount, "other-builder", "session-1"), r.sts.URL, stsRegion, r.host, now), "no AWS role mapping of tenancy dev", true},
			{"dev's role at tenancy other", "other", r.sign(role, r.sts.URL, stsRegion, r.host, now), "no AWS role mapping of tenancy other", true},
			{"an auth token as the password", "dev", "bt_aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "must be an AWS login token", false},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				w := awsLogin(tc.tenancy, tc.token)
				before := r.sts.Calls.Load()
				res := r.tokenResponse("", w)
				if res.Status != http.StatusUnauthorized || !strings.Contains(string(res.Body), tc.msg) {
					t.Fatalf("GET /token: %v, want 401 saying %q", res, tc.msg)
				}
				if asked := r.sts.Calls.Load() > before; asked != tc.asksSTS {
					t.Fatalf("STS asked: %v, want %v", asked, tc.asksSTS)
				}
				if res := (client{r.registry, w, basicMode}).do("GET", "/v2/"+tc.tenancy+"/iam-x/tags/list", nil, nil); res.Status != http.StatusUnauthorized {
					t.Fatalf("Basic on /v2: %v, want 401", res)
				}
			})
		}
		t.Run("an expired signature Berth's clock still accepts is refused by STS", func(t *testing.T) {
			tok := r.sign(role, r.sts.URL, stsRegion, r.host, time.Now().Add(-14*time.Minute))
			r.sts.Now = func() time.Time { return time.Now().Add(2 * time.Minute) }
			defer func() { r.sts.Now = time.Now }()
			if res := r.tokenResponse("", awsLogin("dev", tok)); res.Status != http.StatusUnauthorized || !strings.Contains(string(res.Body), "STS refused") {
				t.Fatalf("GET /token: %v, want 401 from STS's refusal", res)
			}
		})
		t.Run("tenancy other's role logs in to other, and reaches nothing of dev", func(t *testing.T) {
			w := awsLogin("other", r.sign(r.sts.Role(awsAccount, "other-builder", "session-1"), r.sts.URL, stsRegion, r.host, now))
			tok := r.token("", w, "repository:dev/iam-app:pull,push", "repository:other/iam-x:pull")
			if access := accessOf(t, claimsOf(t, tok)); access != "repository:other/iam-x:pull" {
				t.Fatalf("access %s, want pull on other/iam-x only", access)
			}
		})
		t.Run("an STS outage answers 503, not 401", func(t *testing.T) {
			tok := r.sign(r.sts.Role(awsAccount, "ci-outage", "session-1"), r.sts.URL, stsRegion, r.host, time.Now())
			r.sts.Close()
			if res := r.tokenResponse("", awsLogin("dev", tok)); res.Status != http.StatusServiceUnavailable || strings.Contains(string(res.Body), "127.0.0.1") {
				t.Fatalf("GET /token with STS down: %v, want 503 without internals", res)
			}
		})
	})
}

// TestAWSRoleMappingCreateRace fires concurrent POSTs creating one
// mapping name through the gateway: exactly one is created (201), every
// other is told 409 CONFLICT, and the stored mapping is the winner's,
// never a 500 nor a silent overwrite.
func TestAWSRoleMappingCreateRace(t *testing.T) {
	onBackends(t, func(t *testing.T, backend string) {
		r := startIAM(t, backend)
		ctx, now := context.Background(), time.Now().UTC()
		const racers = 8
		for i := range racers {
			if err := r.local.Stores.IDs.PutGroup(ctx, store.Group{Tenancy: "dev", Name: "g" + strconv.Itoa(i), Created: now}); err != nil {
				t.Fatal(err)
			}
		}
		h := http.Header{"Content-Type": {"application/json"}, "Authorization": {r.as("dev/admin").basic()}}
		for round := range 10 {
			name := "race-" + strconv.Itoa(round)
			statuses := make([]int, racers)
			var wg sync.WaitGroup
			for i := range racers {
				wg.Go(func() {
					b, _ := json.Marshal(map[string]any{"name": name, "role": "arn:aws:iam::" + awsAccount + ":role/r" + strconv.Itoa(i), "group": "g" + strconv.Itoa(i)})
					req, _ := http.NewRequest("POST", r.base+"/api/tenancies/dev/aws-roles", bytes.NewReader(b))
					req.Header = h.Clone()
					res, err := r.client.Do(req)
					if err != nil {
						return // statuses[i] stays 0: reported below
					}
					_, _ = io.Copy(io.Discard, res.Body)
					res.Body.Close()
					statuses[i] = res.StatusCode
				})
			}
			wg.Wait()
			winner := -1
			for i, s := range statuses {
				switch s {
				case http.StatusCreated:
					if winner >= 0 {
						t.Fatalf("round %d: two creates of %s succeeded: %v", round, name, statuses)
					}
					winner = i
				case http.StatusConflict:
				default:
					t.Fatalf("round %d: statuses %v, want one 201 and 409s", round, statuses)
				}
			}
			m, err := r.local.Stores.IDs.GetRoleMapping(ctx, "dev", name)
			if err != nil || winner < 0 || m.Group != "g"+strconv.Itoa(winner) {
				t.Fatalf("round %d: stored %+v (%v), want the winner's (racer %d)", round, m, err, winner)
			}
		}
	})
}
