package authz

import (
	"context"
	"crypto/ecdsa"
	"encoding/base64"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/local"
)

// The fixture's identities: tenancy "dev" with one user per kind of
// grant, and tenancy "other" with its own administrator.
const (
	service = "registry.test"
	issuer  = "berth"
)

// fixtureUsers maps each login to its groups.
var fixtureUsers = map[string][]string{
	"dev/admin":   {auth.AdminGroup},
	"dev/viewer":  {"viewers"},
	"dev/reader":  {"readers"},
	"dev/pusher":  {"pushers"},
	"dev/manager": {"managers"},
	"dev/team":    {"team"},
	"dev/nobody":  nil,
	"other/root":  {auth.AdminGroup},
}

var fixturePolicy = []string{
	"allow group viewers to inspect repos in tenancy",
	"allow group readers to read repos in tenancy",
	"allow group pushers to use repos in tenancy",
	"allow group managers to manage repos in tenancy",
	"allow group team to use repos in tenancy where target.repo.name = /team-*/",
}

// fixtureRepos are the repositories that exist, and whether each is
// public.
var fixtureRepos = map[string]bool{
	"dev/app":        false,
	"dev/pub":        true,
	"dev/team-a/app": false,
	"other/secret":   false,
}

// fixtureSecret is the auth token of a fixture login. It is fixed, not
// random, so the committed fuzz corpus can hold valid credentials.
func fixtureSecret(login string) string {
	_, user, _ := strings.Cut(login, "/")
	id := (user + strings.Repeat("x", 16))[:16]
	return "bt_" + id + "_" + ("s3cr3t" + user + strings.Repeat("q", 32))[:32]
}

// basic is an Authorization header with Basic credentials.
func basic(login, secret string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(login+":"+secret))
}

// fixture is an Authorizer over a seeded embedded store.
type fixture struct {
	a      *Authorizer
	meta   *local.Metadata
	key    *ecdsa.PrivateKey
	issuer *auth.Issuer
}

// tb is what the fixture needs of a *testing.T, *testing.B or *testing.F.
type tb interface {
	Helper()
	Fatal(...any)
	TempDir() string
	Cleanup(func())
}

func newFixture(t tb) *fixture {
	t.Helper()
	ctx := context.Background()
	meta, err := local.OpenMetadata(filepath.Join(t.TempDir(), "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	pemKey, err := auth.NewSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	key, err := auth.ParseSigningKey(pemKey)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	for _, ten := range []string{"dev", "other"} {
		if err := meta.CreateTenancy(ctx, store.Tenancy{Name: ten, Created: now}); err != nil {
			t.Fatal(err)
		}
	}
	for login, groups := range fixtureUsers {
		ten, user, _ := strings.Cut(login, "/")
		for _, g := range groups {
			if err := meta.PutGroup(ctx, store.Group{Tenancy: ten, Name: g, Created: now}); err != nil {
				t.Fatal(err)
			}
		}
		if err := meta.PutUser(ctx, store.User{Tenancy: ten, Name: user, Groups: groups, Created: now}); err != nil {
			t.Fatal(err)
		}
		id, secret, _ := auth.ParseAuthToken(fixtureSecret(login))
		if err := meta.PutToken(ctx, store.AuthToken{Tenancy: ten, User: user, ID: id, Hash: auth.HashSecret(secret), Created: now, Expires: now.Add(24 * time.Hour)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := meta.PutPolicy(ctx, store.Policy{Tenancy: "dev", Name: "main", Statements: fixturePolicy, Updated: now}); err != nil {
		t.Fatal(err)
	}
	for name, public := range fixtureRepos {
		if err := meta.PutRepository(ctx, store.Repository{Name: name, Public: public, Created: now}); err != nil {
			t.Fatal(err)
		}
	}
	v := auth.NewVerifier(issuer, service, &key.PublicKey)
	return &fixture{
		a:      NewAuthorizer(meta, meta, v),
		meta:   meta,
		key:    key,
		issuer: auth.NewIssuer(auth.KeySigner{Key: key}, issuer, service, 5*time.Minute),
	}
}

// bearer issues a registry token for subject with access and returns the
// Authorization header carrying it.
func (f *fixture) bearer(t tb, subject string, access ...auth.Access) string {
	t.Helper()
	tok, _, err := f.issuer.Issue(context.Background(), subject, access)
	if err != nil {
		t.Fatal(err)
	}
	return "Bearer " + tok
}

// putToken stores an extra auth token for a user and returns its secret.
func (f *fixture) putToken(t tb, login string, edit func(*store.AuthToken)) string {
	t.Helper()
	ten, user, _ := strings.Cut(login, "/")
	id, secret, hash := auth.NewAuthToken()
	rec := store.AuthToken{Tenancy: ten, User: user, ID: id, Hash: hash, Created: time.Now().UTC()}
	if edit != nil {
		edit(&rec)
	}
	if err := f.meta.PutToken(context.Background(), rec); err != nil {
		t.Fatal(err)
	}
	return secret
}

// age makes the authorizer's caches see d more time pass: every entry
// expires d sooner. (The cache reads the wall clock; moving the entries
// is how a test controls it without sleeping.)
func (f *fixture) age(d time.Duration) {
	c := f.a.cache
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.m {
		e.exp = e.exp.Add(-d)
		c.m[k] = e
	}
}

// quietLog is a logger for handlers under test.
var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

func repoAccess(name string, actions ...string) auth.Access {
	return auth.Access{Type: "repository", Name: name, Actions: actions}
}
