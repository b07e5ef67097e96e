package storetest

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/store"
)

// Identity runs the contract suite for store.Identity. open is called
// once per subtest with that subtest's t; it may return a fresh store or
// one shared by all subtests (tenancy names are unique per subtest).
func Identity(t *testing.T, open func(t *testing.T) store.Identity) {
	groups := []struct {
		name  string
		tests []identityTest
	}{
		{"tenancies", tenancyTests},
		{"users", userTests},
		{"groups and policies", groupPolicyTests},
		{"tokens", tokenTests},
		{"federation rules", federationTests},
		{"AWS role mappings", roleMappingTests},
		{"audit", auditTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
			}
		})
	}
}

// identityTest is one named behaviour of store.Identity.
type identityTest struct {
	name string
	run  func(t *testing.T, s store.Identity)
}

func now() time.Time { return time.Now().UTC().Truncate(time.Millisecond) }

// neighbours are tenancy (or user) names that a naive key scheme would
// confuse with base: it is their prefix, or they join it with a
// separator a store might use.
func neighbours(base string) []string {
	return []string{base + "x", base + "/x", base + "#x", base + "-x", base + "_x"}
}

var tenancyTests = []identityTest{
	{"CreateTenancy then GetTenancy round-trips", func(t *testing.T, s store.Identity) {
		ten := store.Tenancy{Name: unique(t, "ten"), Created: now()}
		must(t, "CreateTenancy", s.CreateTenancy(ctx(t), ten))
		got, err := s.GetTenancy(ctx(t), ten.Name)
		must(t, "GetTenancy", err)
		if got.Name != ten.Name || !got.Created.Equal(ten.Created) {
			t.Fatalf("GetTenancy = %+v, want %+v", got, ten)
		}
	}},
	{"CreateTenancy of a taken name → ErrExists and keeps the first", func(t *testing.T, s store.Identity) {
		ten := store.Tenancy{Name: unique(t, "ten"), Created: now()}
		must(t, "CreateTenancy", s.CreateTenancy(ctx(t), ten))
		wantErr(t, "CreateTenancy again", s.CreateTenancy(ctx(t), store.Tenancy{Name: ten.Name, Created: ten.Created.Add(time.Hour)}), store.ErrExists)
		got, err := s.GetTenancy(ctx(t), ten.Name)
		must(t, "GetTenancy", err)
		if !got.Created.Equal(ten.Created) {
			t.Fatalf("GetTenancy.Created = %v, want the first's %v", got.Created, ten.Created)
		}
	}},
	{"GetTenancy unknown → ErrNotFound", func(t *testing.T, s store.Identity) {
		_, err := s.GetTenancy(ctx(t), unique(t, "missing"))
		wantErr(t, "GetTenancy", err, store.ErrNotFound)
	}},
	{"ListTenancies lists every tenancy by name", func(t *testing.T, s store.Identity) {
		p := unique(t, "list")
		names := []string{p + "-b", p + "-a", p + "/c", p + "-a0"}
		for _, n := range names {
			must(t, "CreateTenancy", s.CreateTenancy(ctx(t), store.Tenancy{Name: n, Created: now()}))
		}
		all, err := s.ListTenancies(ctx(t))
		must(t, "ListTenancies", err)
		var got []string
		for i, ten := range all {
			if i > 0 && all[i-1].Name >= ten.Name {
				t.Fatalf("ListTenancies not in name order at %q, %q", all[i-1].Name, ten.Name)
			}
			if len(ten.Name) > len(p) && ten.Name[:len(p)] == p {
				got = append(got, ten.Name)
			}
		}
		if want := sorted(names); !slices.Equal(got, want) {
			t.Fatalf("ListTenancies has %q of ours, want %q", got, want)
		}
	}},
}

var userTests = []identityTest{
	{"PutUser then GetUser round-trips; PutUser replaces", func(t *testing.T, s store.Identity) {
		u := store.User{Tenancy: unique(t, "ten"), Name: "alice", Groups: []string{"admins", "devs"}, Created: now()}
		must(t, "PutUser", s.PutUser(ctx(t), u))
		got, err := s.GetUser(ctx(t), u.Tenancy, u.Name)
		must(t, "GetUser", err)
		if got.Tenancy != u.Tenancy || got.Name != u.Name || !slices.Equal(got.Groups, u.Groups) || !got.Created.Equal(u.Created) {
			t.Fatalf("GetUser = %+v, want %+v", got, u)
		}
		u.Groups = []string{"readers"}
		must(t, "PutUser again", s.PutUser(ctx(t), u))
		got, err = s.GetUser(ctx(t), u.Tenancy, u.Name)
		must(t, "GetUser", err)
		if !slices.Equal(got.Groups, u.Groups) {
			t.Fatalf("GetUser.Groups = %q after replace, want %q", got.Groups, u.Groups)
		}
	}},
	{"GetUser unknown, or in another tenancy → ErrNotFound", func(t *testing.T, s store.Identity) {
		ten := unique(t, "ten")
		must(t, "PutUser", s.PutUser(ctx(t), store.User{Tenancy: ten, Name: "alice", Created: now()}))
		_, err := s.GetUser(ctx(t), ten, "bob")
		wantErr(t, "GetUser unknown", err, store.ErrNotFound)
		for _, other := range neighbours(ten) {
			_, err := s.GetUser(ctx(t), other, "alice")
			wantErr(t, "GetUser in "+other, err, store.ErrNotFound)
		}
	}},
	{"ListUsers lists a tenancy's users by name, no one else's", func(t *testing.T, s store.Identity) {
		ten := unique(t, "ten")
		names := []string{"zed", "alice", "Bob", "alice2", "al"}
		for _, n := range names {
			must(t, "PutUser", s.PutUser(ctx(t), store.User{Tenancy: ten, Name: n, Created: now()}))
		}
		for _, other := range neighbours(ten) {
			must(t, "PutUser", s.PutUser(ctx(t), store.User{Tenancy: other, Name: "intruder", Created: now()}))
		}
		// Same tenancy, other kinds of records.
		must(t, "PutGroup", s.PutGroup(ctx(t), store.Group{Tenancy: ten, Name: "a-group", Created: now()}))
		must(t, "PutPolicy", s.PutPolicy(ctx(t), store.Policy{Tenancy: ten, Name: "a-policy", Updated: now()}))
		got, err := s.ListUsers(ctx(t), ten)
		must(t, "ListUsers", err)
		var gotNames []string
		for _, u := range got {
			gotNames = append(gotNames, u.Name)
		}
		if want := sorted(names); !slices.Equal(gotNames, want) {
			t.Fatalf("ListUsers = %q, want %q", gotNames, want)
		}
	}},
	{"DeleteUser removes it; deleting again → ErrNotFound", func(t *testing.T, s store.Identity) {
		ten := unique(t, "ten")
		must(t, "PutUser", s.PutUser(ctx(t), store.User{Tenancy: ten, Name: "alice", Created: now()}))
		must(t, "DeleteUser", s.DeleteUser(ctx(t), ten, "alice"))
		_, err := s.GetUser(ctx(t), ten, "alice")
		wantErr(t, "GetUser after delete", err, store.ErrNotFound)
		wantErr(t, "DeleteUser again", s.DeleteUser(ctx(t), ten, "alice"), store.ErrNotFound)
	}},
}

var groupPolicyTests = []identityTest{
	{"groups: put, get, list by name, delete", func(t *testing.T, s store.Identity) {
		ten := unique(t, "ten")
		for _, n := range []string{"devs", "admins", "readers"} {
			must(t, "PutGroup", s.PutGroup(ctx(t), store.Group{Tenancy: ten, Name: n, Description: "the " + n, Created: now()}))
		}
		must(t, "PutGroup elsewhere", s.PutGroup(ctx(t), store.Group{Tenancy: ten + "x", Name: "other", Created: now()}))
		g, err := s.GetGroup(ctx(t), ten, "devs")
		must(t, "GetGroup", err)
		if g.Tenancy != ten || g.Name != "devs" || g.Description != "the devs" {
			t.Fatalf("GetGroup = %+v", g)
		}
		list, err := s.ListGroups(ctx(t), ten)
		must(t, "ListGroups", err)
		var names []string
		for _, g := range list {
			names = append(names, g.Name)
		}
		if want := []string{"admins", "devs", "readers"}; !slices.Equal(names, want) {
			t.Fatalf("ListGroups = %q, want %q", names, want)
		}
		must(t, "DeleteGroup", s.DeleteGroup(ctx(t), ten, "devs"))
		_, err = s.GetGroup(ctx(t), ten, "devs")
		wantErr(t, "GetGroup after delete", err, store.ErrNotFound)
		wantErr(t, "DeleteGroup again", s.DeleteGroup(ctx(t), ten, "devs"), store.ErrNotFound)
	}},
	{"policies: put replaces, get, list by name, delete", func(t *testing.T, s store.Identity) {
		ten := unique(t, "ten")
		p := store.Policy{Tenancy: ten, Name: "pull", Statements: []string{"allow group devs to read repos in tenancy"}, Updated: now()}
		must(t, "PutPolicy", s.PutPolicy(ctx(t), p))
		p.Statements = append(p.Statements, "allow group ops to manage repos in tenancy")
		must(t, "PutPolicy again", s.PutPolicy(ctx(t), p))
		must(t, "PutPolicy", s.PutPolicy(ctx(t), store.Policy{Tenancy: ten, Name: "a-first", Updated: now()}))
		got, err := s.GetPolicy(ctx(t), ten, "pull")
		must(t, "GetPolicy", err)
		if !slices.Equal(got.Statements, p.Statements) || !got.Updated.Equal(p.Updated) {
			t.Fatalf("GetPolicy = %+v, want %+v", got, p)
		}
		list, err := s.ListPolicies(ctx(t), ten)
		must(t, "ListPolicies", err)
		if len(list) != 2 || list[0].Name != "a-first" || list[1].Name != "pull" {
			t.Fatalf("ListPolicies = %+v, want a-first then pull", list)
		}
		list, err = s.ListPolicies(ctx(t), ten+"x")
		must(t, "ListPolicies of a neighbour", err)
		if len(list) != 0 {
			t.Fatalf("ListPolicies of another tenancy = %+v, want none", list)
		}
		must(t, "DeletePolicy", s.DeletePolicy(ctx(t), ten, "pull"))
		_, err = s.GetPolicy(ctx(t), ten, "pull")
		wantErr(t, "GetPolicy after delete", err, store.ErrNotFound)
		wantErr(t, "DeletePolicy again", s.DeletePolicy(ctx(t), ten, "pull"), store.ErrNotFound)
	}},
}

func newToken(ten, user, id string) store.AuthToken {
	return store.AuthToken{
		Tenancy: ten, User: user, ID: id, Description: "laptop", Hash: []byte{0, 1, 2, 0xfe, 0xff},
		Created: now(), Expires: now().Add(90 * 24 * time.Hour),
	}
}

var tokenTests = []identityTest{
	{"PutToken then GetToken round-trips; revoking is a put", func(t *testing.T, s store.Identity) {
		tok := newToken(unique(t, "ten"), "alice", "tok1")
		must(t, "PutToken", s.PutToken(ctx(t), tok))
		got, err := s.GetToken(ctx(t), tok.Tenancy, tok.User, tok.ID)
		must(t, "GetToken", err)
		if got.Tenancy != tok.Tenancy || got.User != tok.User || got.ID != tok.ID || got.Description != tok.Description ||
			!bytes.Equal(got.Hash, tok.Hash) || !got.Created.Equal(tok.Created) || !got.Expires.Equal(tok.Expires) || got.Revoked {
			t.Fatalf("GetToken = %+v, want %+v", got, tok)
		}
		tok.Revoked = true
		must(t, "PutToken revoked", s.PutToken(ctx(t), tok))
		got, err = s.GetToken(ctx(t), tok.Tenancy, tok.User, tok.ID)
		must(t, "GetToken", err)
		if !got.Revoked {
			t.Fatal("GetToken after revoking: Revoked = false")
		}
	}},
	{"GetToken of another user's or tenancy's id → ErrNotFound", func(t *testing.T, s store.Identity) {
		ten := unique(t, "ten")
		must(t, "PutToken", s.PutToken(ctx(t), newToken(ten, "alice", "tok1")))
		must(t, "PutToken", s.PutToken(ctx(t), newToken(ten, "a#b", "c")))
		for _, c := range []struct{ ten, user, id string }{
			{ten, "bob", "tok1"}, {ten + "x", "alice", "tok1"}, {ten, "alice", "tok2"},
			{ten, "a", "b#c"}, // the same key as user "a#b", id "c" under a naive '#' join
		} {
			_, err := s.GetToken(ctx(t), c.ten, c.user, c.id)
			wantErr(t, fmt.Sprintf("GetToken(%q, %q, %q)", c.ten, c.user, c.id), err, store.ErrNotFound)
		}
	}},
	{"ListTokens lists one user's tokens only", func(t *testing.T, s store.Identity) {
		ten := unique(t, "ten")
		for _, id := range []string{"t2", "t1", "t3"} {
			must(t, "PutToken", s.PutToken(ctx(t), newToken(ten, "alice", id)))
		}
		for _, user := range []string{"alice2", "alic", "alice#x", "bob"} {
			must(t, "PutToken", s.PutToken(ctx(t), newToken(ten, user, "other")))
		}
		revoked := newToken(ten, "alice", "t0")
		revoked.Revoked, revoked.Expires = true, now().Add(-time.Hour)
		must(t, "PutToken", s.PutToken(ctx(t), revoked))
		got, err := s.ListTokens(ctx(t), ten, "alice")
		must(t, "ListTokens", err)
		var ids []string
		for _, tok := range got {
			if tok.User != "alice" {
				t.Fatalf("ListTokens(alice) returned %s's token", tok.User)
			}
			ids = append(ids, tok.ID)
		}
		if want := []string{"t0", "t1", "t2", "t3"}; !slices.Equal(sorted(ids), want) {
			t.Fatalf("ListTokens = %q, want %q (revoked and expired included)", ids, want)
		}
	}},
}

var auditEpoch = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

// auditEvent returns an event whose id sorts by its index.
func auditEvent(ten string, i int) store.AuditEvent {
	return store.AuditEvent{
		Tenancy: ten, Time: auditEpoch.Add(time.Duration(i) * time.Second), ID: fmt.Sprintf("%020d-%04d", 1_700_000_000+i, i),
		Principal: ten + "/alice", Action: "push", Target: "repo:tag", Detail: fmt.Sprint(i),
	}
}

var auditTests = []identityTest{
	{"ListAudit pages newest first with exclusive before", func(t *testing.T, s store.Identity) {
		ten := unique(t, "ten")
		const n = 12
		for _, i := range []int{5, 0, 11, 3, 1, 2, 4, 6, 7, 8, 9, 10} {
			must(t, "AppendAudit", s.AppendAudit(ctx(t), auditEvent(ten, i)))
		}
		for _, other := range neighbours(ten) {
			must(t, "AppendAudit elsewhere", s.AppendAudit(ctx(t), auditEvent(other, 99)))
		}
		var got []string
		before := ""
		for page := 0; page <= n; page++ {
			evs, err := s.ListAudit(ctx(t), ten, before, 5)
			must(t, "ListAudit", err)
			if len(evs) > 5 {
				t.Fatalf("ListAudit(limit 5) returned %d events", len(evs))
			}
			for _, e := range evs {
				if e.Tenancy != ten {
					t.Fatalf("ListAudit(%q) returned an event of %q", ten, e.Tenancy)
				}
				got = append(got, e.Detail)
			}
			if len(evs) < 5 {
				break
			}
			before = evs[len(evs)-1].ID
		}
		var want []string
		for i := n - 1; i >= 0; i-- {
			want = append(want, fmt.Sprint(i))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("paged ListAudit = %q, want %q", got, want)
		}
		e := auditEvent(ten, 7)
		evs, err := s.ListAudit(ctx(t), ten, "", 1)
		must(t, "ListAudit newest", err)
		if len(evs) != 1 || evs[0].ID != auditEvent(ten, 11).ID || evs[0].Principal != e.Principal || evs[0].Action != "push" ||
			evs[0].Target != "repo:tag" || !evs[0].Time.Equal(auditEvent(ten, 11).Time) {
			t.Fatalf("ListAudit newest = %+v, want event 11 with every field", evs)
		}
	}},
	{"ListAudit of a tenancy without events is empty", func(t *testing.T, s store.Identity) {
		evs, err := s.ListAudit(ctx(t), unique(t, "ten"), "", 10)
		must(t, "ListAudit", err)
		if len(evs) != 0 {
			t.Fatalf("ListAudit = %+v, want none", evs)
		}
	}},
}
