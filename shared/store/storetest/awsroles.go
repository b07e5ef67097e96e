package storetest

import (
	"slices"
	"testing"

	"github.com/berth-registry/berth/shared/store"
)

func newMapping(ten, name string) store.RoleMapping {
	return store.RoleMapping{Tenancy: ten, Name: name, Role: "arn:aws:iam::123456789012:role/ci-*", Group: "ci",
		MaxLifetimeSeconds: 300, Updated: now()}
}

var roleMappingTests = []identityTest{
	{"PutRoleMapping then GetRoleMapping round-trips; put replaces", func(t *testing.T, s store.Identity) {
		ten := unique(t, "ten")
		m := newMapping(ten, "ci")
		must(t, "PutRoleMapping", s.PutRoleMapping(ctx(t), m))
		got, err := s.GetRoleMapping(ctx(t), ten, "ci")
		must(t, "GetRoleMapping", err)
		sameTime := got.Updated.Equal(m.Updated)
		got.Updated = m.Updated
		if !sameTime || got != m {
			t.Fatalf("GetRoleMapping = %+v, want %+v", got, m)
		}
		m.Role, m.Group = "arn:aws:iam::123456789012:role/release", "release"
		must(t, "PutRoleMapping again", s.PutRoleMapping(ctx(t), m))
		got, err = s.GetRoleMapping(ctx(t), ten, "ci")
		must(t, "GetRoleMapping after replace", err)
		if got.Role != m.Role || got.Group != m.Group {
			t.Fatalf("GetRoleMapping after replace = %+v, want %+v", got, m)
		}
	}},
	{"CreateRoleMapping creates once: the second of a name → ErrExists, the first kept", func(t *testing.T, s store.Identity) {
		ten := unique(t, "ten")
		first := newMapping(ten, "ci")
		must(t, "CreateRoleMapping", s.CreateRoleMapping(ctx(t), first))
		second := newMapping(ten, "ci")
		second.Group = "intruders"
		wantErr(t, "CreateRoleMapping again", s.CreateRoleMapping(ctx(t), second), store.ErrExists)
		got, err := s.GetRoleMapping(ctx(t), ten, "ci")
		must(t, "GetRoleMapping", err)
		if got.Group != "ci" {
			t.Fatalf("the second create overwrote the first: %+v", got)
		}
		for _, n := range neighbours(ten) {
			must(t, "CreateRoleMapping in a neighbour", s.CreateRoleMapping(ctx(t), newMapping(n, "ci")))
		}
	}},
	{"GetRoleMapping unknown, or in another tenancy → ErrNotFound", func(t *testing.T, s store.Identity) {
		ten := unique(t, "ten")
		must(t, "PutRoleMapping", s.PutRoleMapping(ctx(t), newMapping(ten, "ci")))
		_, err := s.GetRoleMapping(ctx(t), ten, "other")
		wantErr(t, "GetRoleMapping of an unknown name", err, store.ErrNotFound)
		for _, n := range neighbours(ten) {
			_, err := s.GetRoleMapping(ctx(t), n, "ci")
			wantErr(t, "GetRoleMapping in tenancy "+n, err, store.ErrNotFound)
		}
	}},
	{"ListRoleMappings lists a tenancy's mappings by name, no one else's and no federation rule", func(t *testing.T, s store.Identity) {
		ten := unique(t, "ten")
		for _, n := range []string{"deploy", "ci", "k8s"} {
			must(t, "PutRoleMapping", s.PutRoleMapping(ctx(t), newMapping(ten, n)))
		}
		for _, n := range neighbours(ten) {
			must(t, "PutRoleMapping in a neighbour", s.PutRoleMapping(ctx(t), newMapping(n, "zz")))
		}
		must(t, "PutFederationRule", s.PutFederationRule(ctx(t), newRule(ten, "ci")))
		must(t, "PutPolicy", s.PutPolicy(ctx(t), store.Policy{Tenancy: ten, Name: "ci", Statements: []string{"allow group ci to read repos in tenancy"}}))
		list, err := s.ListRoleMappings(ctx(t), ten)
		must(t, "ListRoleMappings", err)
		var names []string
		for _, m := range list {
			names = append(names, m.Name)
			if m.Tenancy != ten || m.Role == "" {
				t.Fatalf("ListRoleMappings(%s) holds %+v", ten, m)
			}
		}
		if !slices.Equal(names, []string{"ci", "deploy", "k8s"}) {
			t.Fatalf("ListRoleMappings = %v, want ci deploy k8s", names)
		}
		rules, err := s.ListFederationRules(ctx(t), ten)
		must(t, "ListFederationRules", err)
		if len(rules) != 1 {
			t.Fatalf("ListFederationRules beside role mappings = %+v, want the one rule", rules)
		}
	}},
	{"DeleteRoleMapping removes it; deleting again → ErrNotFound", func(t *testing.T, s store.Identity) {
		ten := unique(t, "ten")
		must(t, "PutRoleMapping", s.PutRoleMapping(ctx(t), newMapping(ten, "ci")))
		must(t, "PutRoleMapping", s.PutRoleMapping(ctx(t), newMapping(ten, "k8s")))
		must(t, "DeleteRoleMapping", s.DeleteRoleMapping(ctx(t), ten, "ci"))
		_, err := s.GetRoleMapping(ctx(t), ten, "ci")
		wantErr(t, "GetRoleMapping after delete", err, store.ErrNotFound)
		wantErr(t, "DeleteRoleMapping again", s.DeleteRoleMapping(ctx(t), ten, "ci"), store.ErrNotFound)
		if _, err := s.GetRoleMapping(ctx(t), ten, "k8s"); err != nil {
			t.Fatalf("the other mapping went too: %v", err)
		}
	}},
}
