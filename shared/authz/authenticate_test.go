package authz

import (
	"context"
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/store"
)

func TestAuthenticateAccepts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	reader := fixtureSecret("dev/reader")
	tests := []struct {
		name       string
		header     string
		want       auth.Principal
		via        string
		wantClaims bool
	}{
		{"no header is anonymous", "", auth.Principal{}, "none", false},
		{"Basic auth token", basic("dev/reader", reader), auth.Principal{Tenancy: "dev", User: "reader", Groups: []string{"readers"}}, "basic", false},
		{"scheme is case-insensitive", "bAsIc " + strings.TrimPrefix(basic("dev/reader", reader), "Basic "), auth.Principal{Tenancy: "dev", User: "reader", Groups: []string{"readers"}}, "basic", false},
		{"surrounding space around the credentials", "Basic   " + strings.TrimPrefix(basic("dev/reader", reader), "Basic ") + "  ", auth.Principal{Tenancy: "dev", User: "reader", Groups: []string{"readers"}}, "basic", false},
		{"a user without groups", basic("dev/nobody", fixtureSecret("dev/nobody")), auth.Principal{Tenancy: "dev", User: "nobody"}, "basic", false},
		{"another tenancy's user", basic("other/root", fixtureSecret("other/root")), auth.Principal{Tenancy: "other", User: "root", Groups: []string{auth.AdminGroup}}, "basic", false},
		{"Bearer registry token", f.bearer(t, "dev/pusher", repoAccess("dev/app", "pull")), auth.Principal{Tenancy: "dev", User: "pusher"}, "bearer", true},
		{"anonymous Bearer token", f.bearer(t, ""), auth.Principal{}, "bearer", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := f.a.Authenticate(ctx, tc.header)
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if c.Principal.String() != tc.want.String() || !slices.Equal(c.Principal.Groups, tc.want.Groups) || c.Via != tc.via {
				t.Errorf("got %v %v via %q, want %v %v via %q", c.Principal, c.Principal.Groups, c.Via, tc.want, tc.want.Groups, tc.via)
			}
			if (c.Claims != nil) != tc.wantClaims {
				t.Errorf("claims %+v, want present = %v", c.Claims, tc.wantClaims)
			}
		})
	}
}

func TestAuthenticateRefuses(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	reader := fixtureSecret("dev/reader")
	id, _, _ := auth.ParseAuthToken(reader)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	otherKey := newFixture(t)
	expiredBearer := func() string {
		i := auth.NewIssuer(auth.KeySigner{Key: f.key}, issuer, service, -time.Hour)
		tok, _, err := i.Issue(ctx, "dev/admin", []auth.Access{repoAccess("dev/app", "*")})
		if err != nil {
			t.Fatal(err)
		}
		return "Bearer " + tok
	}()
	good := f.bearer(t, "dev/admin", repoAccess("dev/app", "pull"))
	tests := []struct {
		name    string
		header  string
		msgPart string
	}{
		// Malformed.
		{"unknown scheme", "Digest username=x", "unsupported Authorization scheme"},
		{"scheme only", "Basic", "invalid username or auth token"},
		{"Basic not base64", "Basic !!!not-base64!!!", "invalid username or auth token"},
		{"Basic without a colon", "Basic " + b64("dev/reader"+reader), "invalid username or auth token"},
		{"Basic login without a tenancy", "Basic " + b64("reader:"+reader), "invalid username or auth token"},
		{"Basic empty user", "Basic " + b64("dev/:"+reader), "invalid username or auth token"},
		{"Basic empty tenancy", "Basic " + b64("/reader:"+reader), "invalid username or auth token"},
		{"Basic password is not an auth token", basic("dev/reader", "hunter2"), "invalid username or auth token"},
		{"Bearer garbage", "Bearer not.a.jwt", "invalid or expired registry token"},
		{"Bearer empty", "Bearer ", "invalid or expired registry token"},
		{"token sent as Basic password hash", basic("dev/reader", string(auth.HashSecret(reader))), "invalid username or auth token"},
		{"oversized header", "Basic " + strings.Repeat("A", MaxAuthorizationLength), "longer than"},
		{"oversized even when valid inside", basic("dev/reader", reader) + strings.Repeat(" ", MaxAuthorizationLength), "longer than"},
		// Well-formed, wrong.
		{"wrong secret for a real id", basic("dev/reader", "bt_"+id+"_"+strings.Repeat("a", 32)), "invalid username or auth token"},
		{"unknown token id", basic("dev/reader", "bt_"+strings.Repeat("z", 16)+"_"+strings.Repeat("a", 32)), "invalid username or auth token"},
		{"unknown user", basic("dev/ghost", reader), "invalid username or auth token"},
		{"another user's token", basic("dev/admin", reader), "invalid username or auth token"},
		{"right user, wrong tenancy", basic("other/reader", reader), "invalid username or auth token"},
		{"unknown tenancy", basic("nowhere/reader", reader), "invalid username or auth token"},
		{"revoked token", basic("dev/reader", f.putToken(t, "dev/reader", func(r *store.AuthToken) { r.Revoked = true })), "invalid username or auth token"},
		{"expired token", basic("dev/reader", f.putToken(t, "dev/reader", func(r *store.AuthToken) { r.Expires = time.Now().Add(-time.Second) })), "invalid username or auth token"},
		{"expired registry token", expiredBearer, "invalid or expired registry token"},
		{"registry token of another key", otherKey.bearer(t, "dev/admin", repoAccess("dev/app", "*")), "invalid or expired registry token"},
		{"registry token with a bit flipped", good[:len(good)-10] + flipChar(good[len(good)-10]) + good[len(good)-9:], "invalid or expired registry token"},
		{"registry token sent as Basic", basic("dev/admin", strings.TrimPrefix(good, "Bearer ")), "invalid username or auth token"},
		{"auth token sent as Bearer", "Bearer " + reader, "invalid or expired registry token"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := f.a.Authenticate(ctx, tc.header)
			var ae *AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("Authenticate = %+v, %v; want an *AuthError", c, err)
			}
			if !strings.Contains(ae.Msg, tc.msgPart) {
				t.Errorf("message %q, want it to contain %q", ae.Msg, tc.msgPart)
			}
			if !c.Principal.Anonymous() || c.Via != "" {
				t.Errorf("credentials %+v returned with the error", c)
			}
		})
	}
}

// flipChar returns a different base64url character.
func flipChar(c byte) string {
	if c == 'A' {
		return "B"
	}
	return "A"
}

func TestBasicFailuresAllLookTheSame(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	reader := fixtureSecret("dev/reader")
	id, _, _ := auth.ParseAuthToken(reader)
	var msgs []string
	for _, c := range [][2]string{
		{"dev/ghost", reader}, // unknown user
		{"dev/reader", "bt_" + id + "_" + strings.Repeat("a", 32)}, // wrong secret
		{"dev/reader", "nonsense"},                                 // not a token
		{"other/reader", reader},                                   // wrong tenancy
	} {
		_, err := f.a.Basic(ctx, c[0], c[1])
		if err == nil {
			t.Fatalf("Basic(%q) succeeded", c[0])
		}
		msgs = append(msgs, err.Error())
	}
	for _, m := range msgs[1:] {
		if m != msgs[0] {
			t.Errorf("failures differ (%q vs %q): a caller learns which part was wrong", m, msgs[0])
		}
	}
}

func TestBasicRefusesADeletedUser(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.meta.DeleteUser(ctx, "dev", "reader"); err != nil {
		t.Fatal(err)
	}
	if p, err := f.a.Basic(ctx, "dev/reader", fixtureSecret("dev/reader")); err == nil {
		t.Errorf("a deleted user's token still logs in as %v", p)
	}
}

func TestBasicExpiryFollowsTheClock(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	now := time.Now()
	secret := f.putToken(t, "dev/reader", func(r *store.AuthToken) { r.Expires = now.Add(time.Hour) })
	f.a.now = func() time.Time { return now.Add(2 * time.Hour) }
	if _, err := f.a.Basic(ctx, "dev/reader", secret); err == nil {
		t.Error("a token past its expiry logs in")
	}
	f.a.now = func() time.Time { return now }
	if _, err := f.a.Basic(ctx, "dev/reader", secret); err != nil {
		t.Errorf("a token within its expiry is refused: %v", err)
	}
	never := f.putToken(t, "dev/reader", nil) // zero Expires: no expiry
	f.a.now = func() time.Time { return now.Add(100 * 365 * 24 * time.Hour) }
	if _, err := f.a.Basic(ctx, "dev/reader", never); err != nil {
		t.Errorf("a token without expiry is refused: %v", err)
	}
}

func TestBasicCacheHonoursRevocationWithinCredentialTTL(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	ten, user := "dev", "pusher"
	secret := f.putToken(t, "dev/pusher", nil)
	id, _, _ := auth.ParseAuthToken(secret)
	if _, err := f.a.Basic(ctx, "dev/pusher", secret); err != nil {
		t.Fatal(err)
	}
	rec, err := f.meta.GetToken(ctx, ten, user, id)
	if err != nil {
		t.Fatal(err)
	}
	rec.Revoked = true
	if err := f.meta.PutToken(ctx, rec); err != nil {
		t.Fatal(err)
	}
	// Within the cache's lifetime the earlier success stands (that is
	// the documented trade-off) ...
	f.age(credentialTTL / 2)
	if _, err := f.a.Basic(ctx, "dev/pusher", secret); err != nil {
		t.Fatalf("refused within credentialTTL (%v): the cache is not used", err)
	}
	// ... but a wrong secret for the same login is never served from it.
	other := "a"
	if strings.HasSuffix(secret, "a") {
		other = "b"
	}
	if _, err := f.a.Basic(ctx, "dev/pusher", secret[:len(secret)-1]+other); err == nil {
		t.Error("a different secret for a cached login succeeded")
	}
	// Once credentialTTL has passed, the revocation takes effect.
	f.age(credentialTTL/2 + time.Second)
	if p, err := f.a.Basic(ctx, "dev/pusher", secret); err == nil {
		t.Errorf("revoked token still logs in as %v after credentialTTL", p)
	}
	// And a refusal is not cached as a success later on.
	f.age(credentialTTL)
	if _, err := f.a.Basic(ctx, "dev/pusher", secret); err == nil {
		t.Error("revoked token logs in again")
	}
	if credentialTTL > time.Minute {
		t.Errorf("credentialTTL = %v; a revoked token must stop working within a minute", credentialTTL)
	}
}

func TestPolicyCacheTakesChangesWithinPolicyTTL(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	c, err := f.a.Authenticate(ctx, basic("dev/reader", fixtureSecret("dev/reader")))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := f.a.Verb(ctx, c, "dev/app"); v != auth.Read {
		t.Fatalf("reader holds %v on dev/app, want read", v)
	}
	late := store.Policy{Tenancy: "dev", Name: "late", Statements: []string{"allow group readers to manage repos in tenancy"}}
	if err := f.meta.PutPolicy(ctx, late); err != nil {
		t.Fatal(err)
	}
	if v, _ := f.a.Verb(ctx, c, "dev/app"); v != auth.Read {
		t.Fatalf("reader holds %v right after the change; the policy cache is not used", v)
	}
	f.age(policyTTL + time.Second)
	if v, _ := f.a.Verb(ctx, c, "dev/app"); v != auth.Manage {
		t.Errorf("after policyTTL the new statement is not in force: reader holds %v", v)
	}
	if policyTTL > time.Minute {
		t.Errorf("policyTTL = %v; policy changes must apply within a minute", policyTTL)
	}
}
