package admin_test

import (
	"testing"
)

// The access check answers with the authorizer's decision over the
// policies as stored; a statement that does not parse is refused with
// the statement and column in the detail; the audit trail filters.
func TestAccessCheckAuditFilterAndPolicyDetail(t *testing.T) {
	e := newEnv(t)
	e.push("dev/team/app")
	e.push("dev/other")
	check := "/api/tenancies/dev/access-check?group=ci&verb="
	e.run([]step{
		{name: "setup: group ci", as: "dev/admin", method: "POST", path: "/api/tenancies/dev/groups", body: map[string]any{"name": "ci"}, status: 201},
		{name: "a statement that does not parse names its column", as: "dev/admin", method: "PUT", path: "/api/tenancies/dev/policies/p",
			body:   map[string]any{"statements": []string{"allow group ci to read repos in tenancy", "allow group ci to rread repos in tenancy"}},
			status: 400, code: "INVALID", has: `"detail":{"statement":2,"column":19,`},
		{name: "setup: ci may use team/*", as: "dev/admin", method: "PUT", path: "/api/tenancies/dev/policies/p",
			body: map[string]any{"statements": []string{"allow group ci to use repos in tenancy where target.repo.name = /team/*/"}}, status: 200},
		{name: "use on a covered repository", as: "dev/admin", method: "GET", path: check + "use&repository=dev/team/app", status: 200,
			has: `"allowed":true,"holds":"use","because":["allow group ci to use repos in tenancy where target.repo.name = /team/*/"]`},
		{name: "manage is more than it holds", as: "dev/admin", method: "GET", path: check + "manage&repository=dev/team/app", status: 200, has: `"allowed":false,"holds":"use"`},
		{name: "nothing on another repository", as: "dev/admin", method: "GET", path: check + "read&repository=dev/other", status: 200, has: `"allowed":false`, lacks: "holds"},
		{name: "administrators manage", as: "dev/admin", method: "GET", path: "/api/tenancies/dev/access-check?group=administrators&verb=manage&repository=dev/other", status: 200, has: `"allowed":true,"holds":"manage"`},
		{name: "an unknown verb", as: "dev/admin", method: "GET", path: check + "pull&repository=dev/other", status: 400, code: "INVALID"},
		{name: "another tenancy's repository", as: "dev/admin", method: "GET", path: check + "read&repository=acme/x", status: 400, code: "INVALID"},
		{name: "members who are no administrators may not ask", as: "dev/alice", method: "GET", path: check + "read&repository=dev/other", status: 403, code: "DENIED"},
		{name: "audit filtered by action", as: "dev/admin", method: "GET", path: "/api/tenancies/dev/audit?action=put+policy", status: 200, has: `"action":"put policy"`, lacks: "create group"},
		{name: "audit filtered by target, nothing", as: "dev/admin", method: "GET", path: "/api/tenancies/dev/audit?target=nothing-like-it", status: 200, has: `"events":[]`},
	})
}
