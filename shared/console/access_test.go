package console_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/berth-registry/berth/shared/store"
)

// The Access page: a token created is shown once with its docker login
// line and can be revoked; a policy statement that does not parse comes
// back marked at its column; the access check answers with the
// authorizer's decision; the audit trail filters; a member who
// administers nothing sees no administrator's controls and is refused
// their forms.
func TestAccessPages(t *testing.T) {
	e := newPagesEnv(t)
	e.image("dev/team/app", "app", t0, "v1")
	e.must(e.meta.PutGroup(t.Context(), store.Group{Tenancy: "dev", Name: "ci", Created: t0}))

	p := e.as("dev/admin", "GET", "/console/access", nil)
	if p.status != 200 {
		t.Fatalf("GET /console/access: %d %s", p.status, p.body)
	}
	p.has(t, "access page", `id="user-table"`, "dev/alice", `id="group-form"`, "Auth tokens of dev/admin")

	p = e.as("dev/admin", "POST", "/console/access/users", url.Values{"name": {"bob"}, "groups": {"ci"}})
	if p.status != http.StatusSeeOther || !strings.Contains(p.location, "user=bob") {
		t.Fatalf("create user: %d %s", p.status, p.body)
	}
	if u, err := e.meta.GetUser(t.Context(), "dev", "bob"); err != nil || len(u.Groups) != 1 || u.Groups[0] != "ci" {
		t.Errorf("bob: %+v %v, want in ci", u, err)
	}
	if p := e.as("dev/admin", "POST", "/console/access/users", url.Values{"name": {"carol"}, "groups": {"nope"}}); p.status != http.StatusUnprocessableEntity {
		t.Errorf("a user in a group that does not exist: %d", p.status)
	} else {
		p.has(t, "bad group", `id="access-problem"`, "nope")
	}
	if p := e.as("dev/admin", "POST", "/console/access/users/alice/groups", url.Values{"groups": {"ci"}}); p.status != http.StatusSeeOther {
		t.Fatalf("set alice's groups: %d %s", p.status, p.body)
	}
	if u, _ := e.meta.GetUser(t.Context(), "dev", "alice"); len(u.Groups) != 1 || u.Groups[0] != "ci" {
		t.Errorf("alice's groups %v, want ci", u.Groups)
	}
	e.must(e.meta.PutUser(t.Context(), store.User{Tenancy: "dev", Name: "alice", Created: t0})) // back to no group

	p = e.as("dev/admin", "POST", "/console/access/tokens", url.Values{"user": {"alice"}, "description": {"laptop"}, "days": {"30"}})
	if p.status != 200 {
		t.Fatalf("create token: %d %s", p.status, p.body)
	}
	secret := regexp.MustCompile(`bt_[a-z2-7]{16}_[A-Za-z0-9_-]+`).FindString(p.body)
	if secret == "" {
		t.Fatalf("the new token is not on the page: %s", p.body)
	}
	p.has(t, "token created", "shown this once", "docker login example.com -u dev/alice", "Auth tokens of dev/alice", "laptop")
	toks, err := e.meta.ListTokens(t.Context(), "dev", "alice")
	if err != nil || len(toks) != 1 || !strings.Contains(secret, toks[0].ID) {
		t.Fatalf("alice's tokens %+v %v; want the one shown", toks, err)
	}
	if again := e.as("dev/admin", "GET", "/console/access?user=alice", nil); strings.Contains(again.body, secret) {
		t.Error("the token's secret is shown a second time")
	}
	p = e.as("dev/admin", "POST", "/console/access/tokens/revoke", url.Values{"user": {"alice"}, "id": {toks[0].ID}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("revoke: %d %s", p.status, p.body)
	}
	if tok, _ := e.meta.GetToken(t.Context(), "dev", "alice", toks[0].ID); !tok.Revoked {
		t.Error("the token is not revoked")
	}

	p = e.as("dev/admin", "POST", "/console/access/policies", url.Values{"new": {"1"}, "name": {"ci"},
		"statements": {"allow group ci to use repos in tenancy where target.repo.name = /team/*/\nallow group ci to rread repos in tenancy"}})
	if p.status != http.StatusUnprocessableEntity {
		t.Fatalf("a policy that does not parse: %d", p.status)
	}
	p.has(t, "parse error", "Statement 2, column 19: unknown verb", "allow group ci to rread repos in tenancy\n"+strings.Repeat(" ", 18)+"^", `aria-invalid="true"`)
	p = e.as("dev/admin", "POST", "/console/access/policies", url.Values{"new": {"1"}, "name": {"ci"},
		"statements": {"allow group ci to use repos in tenancy where target.repo.name = /team/*/"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("save policy: %d %s", p.status, p.body)
	}
	p = e.as("dev/admin", "GET", "/console/access?group=ci&verb=use&repository=team/app", nil)
	p.has(t, "check yes", `id="check-answer"`, "Yes:", "(holds use)", "allow group ci to use repos in tenancy where target.repo.name = /team/*/")
	e.as("dev/admin", "GET", "/console/access?group=ci&verb=manage&repository=dev/team/app", nil).has(t, "check no", "No:", "may not manage")

	p = e.as("dev/admin", "GET", "/console/access?action=revoke", nil)
	p.has(t, "audit filtered", `id="audit-table"`, "revoke token")
	if strings.Contains(p.body, ">put policy<") {
		t.Error("the audit filter for revoke shows put policy")
	}

	p = e.as("dev/alice", "GET", "/console/access", nil)
	if p.status != 200 {
		t.Fatalf("alice on the Access page: %d %s", p.status, p.body)
	}
	p.has(t, "alice's access page", "Auth tokens of dev/alice", `readonly`)
	for _, admin := range []string{`id="user-table"`, `id="user-form"`, `id="group-form"`, `id="policy-new"`, `id="check-form"`, `id="audit-table"`, "Save ci"} {
		if strings.Contains(p.body, admin) {
			t.Errorf("alice sees %s", admin)
		}
	}
	if p := e.as("dev/alice", "POST", "/console/access/users/alice/groups", url.Values{"groups": {"administrators"}}); p.status != http.StatusForbidden {
		t.Errorf("alice making herself an administrator: %d", p.status)
	}
	if p := e.as("dev/alice", "POST", "/console/access/groups", url.Values{"name": {"mine"}}); p.status != http.StatusForbidden {
		t.Errorf("alice creating a group: %d", p.status)
	}
	if p := e.as("dev/alice", "POST", "/console/access/policies", url.Values{"name": {"ci"}, "statements": {"allow group ci to manage repos in tenancy"}}); p.status != http.StatusForbidden {
		t.Errorf("alice writing a policy: %d", p.status)
	}
}
