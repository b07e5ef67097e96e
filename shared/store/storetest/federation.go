package storetest

import (
	"maps"
	"slices"
	"testing"

	"github.com/berth-registry/berth/shared/store"
)

func newRule(ten, name string) store.FederationRule {
	return store.FederationRule{
		Tenancy: ten, Name: name, Issuer: "https://token.actions.githubusercontent.com", Audience: "https://registry.example.com",
		Claims: map[string]string{"repository": "acme/app", "ref": "refs/heads/*"}, Group: "ci",
		MaxLifetimeSeconds: 300, JWKSHosts: []string{"keys.example.com"}, Updated: now(),
	}
}

func sameRule(a, b store.FederationRule) bool {
	return a.Tenancy == b.Tenancy && a.Name == b.Name && a.Issuer == b.Issuer && a.Audience == b.Audience &&
		maps.Equal(a.Claims, b.Claims) && a.Group == b.Group && a.MaxLifetimeSeconds == b.MaxLifetimeSeconds &&
		slices.Equal(a.JWKSHosts, b.JWKSHosts) && a.Updated.Equal(b.Updated)
}

var federationTests = []identityTest{
	{"PutFederationRule then GetFederationRule round-trips; put replaces", func(t *testing.T, s store.Identity) {
		ten := unique(t, "ten")
		r := newRule(ten, "gha")
		must(t, "PutFederationRule", s.PutFederationRule(ctx(t), r))
		got, err := s.GetFederationRule(ctx(t), ten, "gha")
		must(t, "GetFederationRule", err)
		if !sameRule(got, r) {
			t.Fatalf("GetFederationRule = %+v, want %+v", got, r)
		}
		r.Claims = map[string]string{"sub": "repo:acme/app:ref:refs/heads/main"}
		r.Group, r.JWKSHosts = "release", nil
		must(t, "PutFederationRule again", s.PutFederationRule(ctx(t), r))
		got, err = s.GetFederationRule(ctx(t), ten, "gha")
		must(t, "GetFederationRule after replace", err)
		if !sameRule(got, r) {
			t.Fatalf("GetFederationRule after replace = %+v, want %+v", got, r)
		}
	}},
	{"GetFederationRule unknown, or in another tenancy → ErrNotFound", func(t *testing.T, s store.Identity) {
		ten := unique(t, "ten")
		must(t, "PutFederationRule", s.PutFederationRule(ctx(t), newRule(ten, "gha")))
		_, err := s.GetFederationRule(ctx(t), ten, "other")
		wantErr(t, "GetFederationRule of an unknown name", err, store.ErrNotFound)
		for _, n := range neighbours(ten) {
			_, err := s.GetFederationRule(ctx(t), n, "gha")
			wantErr(t, "GetFederationRule in tenancy "+n, err, store.ErrNotFound)
		}
	}},
	{"ListFederationRules lists a tenancy's rules by name, no one else's", func(t *testing.T, s store.Identity) {
		ten := unique(t, "ten")
		for _, n := range []string{"k8s", "gha", "gitlab"} {
			must(t, "PutFederationRule", s.PutFederationRule(ctx(t), newRule(ten, n)))
		}
		for _, n := range neighbours(ten) {
			must(t, "PutFederationRule in a neighbour", s.PutFederationRule(ctx(t), newRule(n, "zz")))
		}
		// A policy, user and group share the tenancy's partition on
		// DynamoDB: none of them is a rule.
		must(t, "PutPolicy", s.PutPolicy(ctx(t), store.Policy{Tenancy: ten, Name: "gha", Statements: []string{"allow group ci to read repos in tenancy"}}))
		must(t, "PutGroup", s.PutGroup(ctx(t), store.Group{Tenancy: ten, Name: "ci"}))
		list, err := s.ListFederationRules(ctx(t), ten)
		must(t, "ListFederationRules", err)
		var names []string
		for _, r := range list {
			names = append(names, r.Name)
			if r.Tenancy != ten || r.Issuer == "" {
				t.Fatalf("ListFederationRules(%s) holds %+v", ten, r)
			}
		}
		if !slices.Equal(names, []string{"gha", "gitlab", "k8s"}) {
			t.Fatalf("ListFederationRules = %v, want gha gitlab k8s", names)
		}
		list, err = s.ListFederationRules(ctx(t), unique(t, "empty"))
		must(t, "ListFederationRules of a tenancy without rules", err)
		if len(list) != 0 {
			t.Fatalf("ListFederationRules of a tenancy without rules = %+v", list)
		}
	}},
	{"DeleteFederationRule removes it; deleting again → ErrNotFound", func(t *testing.T, s store.Identity) {
		ten := unique(t, "ten")
		must(t, "PutFederationRule", s.PutFederationRule(ctx(t), newRule(ten, "gha")))
		must(t, "PutFederationRule", s.PutFederationRule(ctx(t), newRule(ten, "k8s")))
		must(t, "DeleteFederationRule", s.DeleteFederationRule(ctx(t), ten, "gha"))
		_, err := s.GetFederationRule(ctx(t), ten, "gha")
		wantErr(t, "GetFederationRule after delete", err, store.ErrNotFound)
		wantErr(t, "DeleteFederationRule again", s.DeleteFederationRule(ctx(t), ten, "gha"), store.ErrNotFound)
		if _, err := s.GetFederationRule(ctx(t), ten, "k8s"); err != nil {
			t.Fatalf("the other rule went too: %v", err)
		}
	}},
}
