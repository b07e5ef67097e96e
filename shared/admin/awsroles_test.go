package admin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/store"
)

func TestAWSRoleMappings(t *testing.T) {
	e := newEnv(t)
	now := time.Now().UTC()
	must(t, e.meta.PutGroup(context.Background(), store.Group{Tenancy: "dev", Name: "ci", Created: now}))
	ci := map[string]any{"name": "ci", "role": "arn:aws:iam::123456789012:role/ci-*", "group": "ci"}
	put := func(role string) map[string]any { return map[string]any{"role": role, "group": "ci"} }
	const path = "/api/tenancies/dev/aws-roles"
	e.run([]step{
		{"a member may not create a mapping", "dev/alice", "POST", path, ci, 403, "DENIED", "", ""},
		{"an administrator of another tenancy may not", "acme/admin", "POST", path, ci, 403, "DENIED", "", ""},
		{"the tenancy's administrator creates one", "dev/admin", "POST", path, ci, 201, "", `"maxLifetimeSeconds":900`, ""},
		{"creating it again conflicts", "dev/admin", "POST", path, ci, 409, "CONFLICT", "", ""},
		{"members list mappings", "dev/alice", "GET", path, nil, 200, "", `"login":"dev/aws"`, ""},
		{"another tenancy's member sees none of them", "acme/carol", "GET", path, nil, 403, "DENIED", "", ""},
		{"get one", "dev/bob", "GET", path + "/ci", nil, 200, "", `"role":"arn:aws:iam::123456789012:role/ci-*"`, ""},
		{"get an unknown one", "dev/bob", "GET", path + "/nope", nil, 404, "NOT_FOUND", "", ""},
		{"an account pattern", "dev/admin", "PUT", path + "/x", put("arn:aws:iam::*:role/ci"), 400, "INVALID", "account cannot be a pattern", ""},
		{"a user ARN", "dev/admin", "PUT", path + "/x", put("arn:aws:iam::123456789012:user/ci"), 400, "INVALID", "12-digit account", ""},
		{"a role with a path", "dev/admin", "PUT", path + "/x", put("arn:aws:iam::123456789012:role/team/ci"), 400, "INVALID", "role path", ""},
		{"an assumed-role ARN", "dev/admin", "PUT", path + "/x", put("arn:aws:sts::123456789012:assumed-role/ci/s"), 400, "INVALID", "", ""},
		{"a group that does not exist", "dev/admin", "PUT", path + "/x", map[string]any{"role": "arn:aws:iam::123456789012:role/ci", "group": "nobody"}, 400, "INVALID", "does not exist", ""},
		{"a lifetime out of range", "dev/admin", "PUT", path + "/x", map[string]any{"role": "arn:aws:iam::123456789012:role/ci", "group": "ci", "maxLifetimeSeconds": 5}, 400, "INVALID", "maxLifetimeSeconds", ""},
		{"an unknown field", "dev/admin", "PUT", path + "/x", map[string]any{"role": "arn:aws:iam::123456789012:role/ci", "grup": "ci"}, 400, "INVALID", "unknown field", ""},
		{"a bad mapping name", "dev/admin", "PUT", path + "/-x", put("arn:aws:iam::123456789012:role/ci"), 400, "INVALID", "mapping name", ""},
		{"PUT creates", "dev/admin", "PUT", path + "/deploy", map[string]any{"role": "arn:aws:iam::123456789012:role/deploy", "group": "ci", "maxLifetimeSeconds": 300}, 200, "", `"maxLifetimeSeconds":300`, ""},
		{"a member may not delete", "dev/alice", "DELETE", path + "/ci", nil, 403, "DENIED", "", ""},
		{"the administrator deletes", "dev/admin", "DELETE", path + "/ci", nil, 204, "", "", ""},
		{"deleting again", "dev/admin", "DELETE", path + "/ci", nil, 404, "NOT_FOUND", "", ""},
		{"the user name aws is reserved", "dev/admin", "POST", "/api/tenancies/dev/users", map[string]any{"name": "aws"}, 400, "INVALID", "reserved", ""},
	})
	hasAll(t, e.audit("dev"), "dev/admin put aws role mapping ci", "dev/admin put aws role mapping deploy", "dev/admin delete aws role mapping ci")
	es, err := e.meta.ListAudit(context.Background(), "dev", "", 100)
	must(t, err)
	for _, ev := range es {
		if ev.Action == "put aws role mapping" && ev.Target == "deploy" && !strings.Contains(ev.Detail, "role=arn:aws:iam::123456789012:role/deploy group=ci") {
			t.Errorf("audit detail %q does not name the role and group", ev.Detail)
		}
	}
	list, err := e.meta.ListRoleMappings(context.Background(), "dev")
	must(t, err)
	if len(list) != 1 || list[0].Name != "deploy" {
		t.Fatalf("mappings left: %+v", list)
	}
}
