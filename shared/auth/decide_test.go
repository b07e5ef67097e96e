package auth

import (
	"testing"

	"github.com/berth-registry/berth/shared/route"
)

func mustParse(t *testing.T, stmts ...string) []Statement {
	t.Helper()
	out, err := ParsePolicy(stmts)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestVerbForEveryRouteAction(t *testing.T) {
	tests := []struct {
		action string
		want   Verb
	}{
		{route.ActionCatalog, Inspect},
		{route.ActionPull, Read},
		{route.ActionPush, Use},
		{route.ActionDelete, Manage},
		{"", Manage},          // no action: nothing below manage is enough
		{"rename", Manage},    // an action this code does not know fails closed
		{"PULL", Manage},      // actions are exact
		{"pull,push", Manage}, // a scope's action list is not an action
	}
	for _, tc := range tests {
		if got := VerbFor(tc.action); got != tc.want {
			t.Errorf("VerbFor(%q) = %v, want %v", tc.action, got, tc.want)
		}
	}
	// Every action the route table uses maps to a real verb.
	for _, r := range route.Table() {
		if r.Action != "" && VerbFor(r.Action) == 0 {
			t.Errorf("route %s: action %q has no verb", r.Key(), r.Action)
		}
	}
}

func TestSplitRepo(t *testing.T) {
	for in, want := range map[string][2]string{
		"dev/app":      {"dev", "app"},
		"dev/team/app": {"dev", "team/app"},
		"dev":          {"dev", ""},
		"":             {"", ""},
	} {
		if ten, rest := SplitRepo(in); ten != want[0] || rest != want[1] {
			t.Errorf("SplitRepo(%q) = %q, %q; want %q, %q", in, ten, rest, want[0], want[1])
		}
	}
}

func TestPrincipal(t *testing.T) {
	anon := Principal{}
	if !anon.Anonymous() || anon.String() != "anonymous" || anon.IsAdmin() {
		t.Errorf("zero Principal: Anonymous %v String %q IsAdmin %v", anon.Anonymous(), anon.String(), anon.IsAdmin())
	}
	// A tenancy without a user is still nobody.
	if !(Principal{Tenancy: "dev"}).Anonymous() {
		t.Error("a principal without a user is not anonymous")
	}
	p := Principal{Tenancy: "dev", User: "ann", Groups: []string{"ops", AdminGroup}}
	if p.Anonymous() || p.String() != "dev/ann" || !p.IsAdmin() {
		t.Errorf("%+v: Anonymous %v String %q IsAdmin %v", p, p.Anonymous(), p.String(), p.IsAdmin())
	}
	if (Principal{Tenancy: "dev", User: "bob", Groups: []string{"Administrators"}}).IsAdmin() {
		t.Error("group names are exact: Administrators is not administrators")
	}
}

func TestRepoAccess(t *testing.T) {
	stmts := mustParse(t,
		"allow group viewers to inspect repos in tenancy",
		"allow group readers to read repos in tenancy",
		"allow group ci to use repos in tenancy",
		"allow group team to use repos in tenancy where target.repo.name = /team-*/",
		"allow group app to manage repos in tenancy where target.repo.name = 'app'",
		"allow group readers to inspect repos in tenancy", // weaker grant does not lower Read
	)
	user := func(groups ...string) Principal { return Principal{Tenancy: "dev", User: "u", Groups: groups} }
	tests := []struct {
		name   string
		p      Principal
		repo   string
		public bool
		want   Verb
	}{
		{"anonymous, private", Principal{}, "dev/app", false, 0},
		{"anonymous, public → read", Principal{}, "dev/app", true, Read},
		{"no groups, private", user(), "dev/app", false, 0},
		{"no groups, public → read", user(), "dev/app", true, Read},
		{"inspect group", user("viewers"), "dev/app", false, Inspect},
		{"read group", user("readers"), "dev/app", false, Read},
		{"use group", user("ci"), "dev/x/y", false, Use},
		{"manage on one repository", user("app"), "dev/app", false, Manage},
		{"manage on one repository only", user("app"), "dev/app2", false, 0},
		{"glob matches", user("team"), "dev/team-a", false, Use},
		{"glob crosses '/'", user("team"), "dev/team-a/svc", false, Use},
		{"glob does not match", user("team"), "dev/other", false, 0},
		{"strongest of several groups wins", user("viewers", "team", "app"), "dev/app", false, Manage},
		{"groups are exact", user("Readers"), "dev/app", false, 0},
		{"admin manages everything in its tenancy", user(AdminGroup), "dev/anything/deep", false, Manage},
		{"admin of another tenancy gets nothing", Principal{Tenancy: "other", User: "root", Groups: []string{AdminGroup}}, "dev/app", false, 0},
		{"another tenancy's statements do not apply", Principal{Tenancy: "other", User: "u", Groups: []string{"ci"}}, "dev/app", false, 0},
		{"another tenancy sees a public repo as everyone does", Principal{Tenancy: "other", User: "root", Groups: []string{AdminGroup}}, "dev/app", true, Read},
		{"tenancy name alone is not a repository", user(AdminGroup), "dev", false, 0},
		{"prefix of the tenancy name is not the tenancy", user(AdminGroup), "devx/app", false, 0},
		{"tenancy names are exact", user(AdminGroup), "Dev/app", false, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := RepoAccess(tc.p, stmts, tc.repo, tc.public); got != tc.want {
				t.Errorf("RepoAccess(%v %v, %q, public=%v) = %v, want %v", tc.p, tc.p.Groups, tc.repo, tc.public, got, tc.want)
			}
		})
	}
}

func TestTenancyAccess(t *testing.T) {
	stmts := mustParse(t,
		"allow group viewers to inspect repos in tenancy",
		"allow group team to use repos in tenancy where target.repo.name = /team-*/",
	)
	tests := []struct {
		name string
		p    Principal
		want Verb
	}{
		{"anonymous", Principal{}, 0},
		{"no groups", Principal{Tenancy: "dev", User: "u"}, 0},
		{"inspect", Principal{Tenancy: "dev", User: "u", Groups: []string{"viewers"}}, Inspect},
		{"a where clause still counts", Principal{Tenancy: "dev", User: "u", Groups: []string{"team"}}, Use},
		{"strongest", Principal{Tenancy: "dev", User: "u", Groups: []string{"viewers", "team"}}, Use},
		{"admin", Principal{Tenancy: "dev", User: "u", Groups: []string{AdminGroup}}, Manage},
		{"unknown group", Principal{Tenancy: "dev", User: "u", Groups: []string{"ghosts"}}, 0},
	}
	for _, tc := range tests {
		if got := TenancyAccess(tc.p, stmts); got != tc.want {
			t.Errorf("%s: TenancyAccess = %v, want %v", tc.name, got, tc.want)
		}
	}
}
