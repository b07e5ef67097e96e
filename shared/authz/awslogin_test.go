package authz

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/iamlogin"
	"github.com/berth-registry/berth/shared/iamlogin/iamsign"
	"github.com/berth-registry/berth/shared/iamlogin/ststest"
	"github.com/berth-registry/berth/shared/store"
)

// mappingIDs counts the role-mapping reads AWS logins make.
type mappingIDs struct {
	store.Identity
	reads atomic.Int64
}

func (m *mappingIDs) ListRoleMappings(ctx context.Context, t string) ([]store.RoleMapping, error) {
	m.reads.Add(1)
	return m.Identity.ListRoleMappings(ctx, t)
}

// TestAWSLoginsCostOneSTSCallAndOneReadPerCacheLife: a burst of
// requests with one login asks STS once and reads the mappings once; a
// tenancy without mappings never makes the registry call STS; a cached
// login stops working when its signature's window ends, cache or not.
func TestAWSLoginsCostOneSTSCallAndOneReadPerCacheLife(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if err := f.meta.PutGroup(ctx, store.Group{Tenancy: "dev", Name: "ci"}); err != nil {
		t.Fatal(err)
	}
	if err := f.meta.PutRoleMapping(ctx, store.RoleMapping{Tenancy: "dev", Name: "ci", Role: "arn:aws:iam::123456789012:role/ci", Group: "ci", MaxLifetimeSeconds: 60}); err != nil {
		t.Fatal(err)
	}
	sts := ststest.New(t, "eu-west-1", true)
	v, err := iamlogin.NewVerifier(iamlogin.Options{Endpoint: sts.URL, Region: "eu-west-1", RootCAs: sts.RootCAs()})
	if err != nil {
		t.Fatal(err)
	}
	ids := &mappingIDs{Identity: f.meta}
	now := time.Now()
	clock := now
	a := NewAuthorizer(ids, f.meta, nil).WithAWS(v).WithClock(func() time.Time { return clock })
	tok, err := iamsign.Sign(ctx, sts.Role("123456789012", "ci", "job"), sts.URL, "eu-west-1", "registry.example.com", now)
	if err != nil {
		t.Fatal(err)
	}
	hctx := WithHost(ctx, "registry.example.com")
	for range 20 {
		c, err := a.Login(hctx, "dev/aws", tok)
		if err != nil {
			t.Fatal(err)
		}
		if c.Via != "aws" || c.Principal.String() != "dev/aws" || strings.Join(c.Principal.Groups, ",") != "ci" || c.Expires.After(now.Add(61*time.Second)) {
			t.Fatalf("credentials %+v, want dev/aws in ci for at most the mapping's 60 s", c)
		}
	}
	if n, r := sts.Calls.Load(), ids.reads.Load(); n != 1 || r != 1 {
		t.Fatalf("20 logins asked STS %d times and read the mappings %d times, want 1 and 1", n, r)
	}
	if _, err := a.Login(hctx, "other/aws", tok); err == nil || !strings.Contains(err.Error(), "maps no AWS roles") {
		t.Fatalf("a tenancy without mappings: %v", err)
	}
	if n := sts.Calls.Load(); n != 1 {
		t.Fatalf("a tenancy without mappings made the registry ask STS (%d calls)", n)
	}
	clock = now.Add(iamlogin.Window + time.Second)
	if _, err := a.Login(hctx, "dev/aws", tok); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("the cached login after its window: %v, want expired", err)
	}
	if _, err := a.Login(hctx, "dev/oidc", tok); err == nil {
		t.Fatal("an AWS login token as dev/oidc's password was accepted")
	}
}
