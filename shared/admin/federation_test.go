package admin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/store"
)

func TestFederationRules(t *testing.T) {
	e := newEnv(t)
	now := time.Now().UTC()
	must(t, e.meta.PutGroup(context.Background(), store.Group{Tenancy: "dev", Name: "ci", Created: now}))
	must(t, e.meta.PutGroup(context.Background(), store.Group{Tenancy: "acme", Name: "ci", Created: now}))
	gha := map[string]any{
		"name": "gha", "issuer": "https://token.actions.githubusercontent.com", "audience": "https://registry.example.com",
		"claims": map[string]string{"repository": "acme/app", "ref": "refs/heads/*"}, "group": "ci",
	}
	with := func(k string, v any) map[string]any {
		m := map[string]any{}
		for a, b := range gha {
			if a != "name" { // PUT names the rule in its path
				m[a] = b
			}
		}
		if v == nil {
			delete(m, k)
		} else {
			m[k] = v
		}
		return m
	}
	const rules = "/api/tenancies/dev/federation-rules"
	e.run([]step{
		{"a member may not create a rule", "dev/alice", "POST", rules, gha, 403, "DENIED", "", ""},
		{"an administrator of another tenancy may not", "acme/admin", "POST", rules, gha, 403, "DENIED", "", ""},
		{"the tenancy's administrator creates one", "dev/admin", "POST", rules, gha, 201, "", `"maxLifetimeSeconds":900`, ""},
		{"creating it again conflicts", "dev/admin", "POST", rules, gha, 409, "CONFLICT", "", ""},
		{"members list rules", "dev/alice", "GET", rules, nil, 200, "", `"login":"dev/oidc"`, ""},
		{"another tenancy's member sees none of them", "acme/carol", "GET", rules, nil, 403, "DENIED", "", ""},
		{"get one", "dev/bob", "GET", rules + "/gha", nil, 200, "", `"repository":"acme/app"`, ""},
		{"get an unknown one", "dev/bob", "GET", rules + "/nope", nil, 404, "NOT_FOUND", "", ""},
		{"an http issuer", "dev/admin", "PUT", rules + "/x", with("issuer", "http://token.actions.githubusercontent.com"), 400, "INVALID", "https", ""},
		{"a loopback http issuer without BERTH_OIDC_LOOPBACK", "dev/admin", "PUT", rules + "/x", with("issuer", "http://127.0.0.1:9001/2018-06-01/runtime"), 400, "INVALID", "BERTH_OIDC_LOOPBACK", ""},
		{"an issuer with a query", "dev/admin", "PUT", rules + "/x", with("issuer", "https://issuer.example.com/?x="), 400, "INVALID", "query", ""},
		{"no conditions", "dev/admin", "PUT", rules + "/x", with("claims", map[string]string{}), 400, "INVALID", "at least one claim condition", ""},
		{"a condition on aud", "dev/admin", "PUT", rules + "/x", with("claims", map[string]string{"aud": "x"}), 400, "INVALID", "cannot be a condition", ""},
		{"an empty condition", "dev/admin", "PUT", rules + "/x", with("claims", map[string]string{"sub": ""}), 400, "INVALID", "", ""},
		{"no audience", "dev/admin", "PUT", rules + "/x", with("audience", nil), 400, "INVALID", "audience", ""},
		{"a group that does not exist", "dev/admin", "PUT", rules + "/x", with("group", "nobody"), 400, "INVALID", "does not exist", ""},
		{"a lifetime out of range", "dev/admin", "PUT", rules + "/x", with("maxLifetimeSeconds", 5), 400, "INVALID", "maxLifetimeSeconds", ""},
		{"a jwks host with a scheme", "dev/admin", "PUT", rules + "/x", with("jwksHosts", []string{"https://keys.example.com"}), 400, "INVALID", "host name", ""},
		{"an unknown field", "dev/admin", "PUT", rules + "/x", with("grup", "ci"), 400, "INVALID", "unknown field", ""},
		{"a bad rule name", "dev/admin", "PUT", rules + "/-x", with("name", nil), 400, "INVALID", "rule name", ""},
		{"PUT replaces", "dev/admin", "PUT", rules + "/gha", with("name", nil), 200, "", `"ref":"refs/heads/*"`, ""},
		{"PUT creates", "dev/admin", "PUT", rules + "/k8s", map[string]any{
			"issuer": "https://oidc.eks.eu-west-1.amazonaws.com/id/ABC", "audience": "berth",
			"claims": map[string]string{"sub": "system:serviceaccount:ci:*"}, "group": "ci", "maxLifetimeSeconds": 300,
		}, 200, "", `"maxLifetimeSeconds":300`, ""},
		{"a member may not delete", "dev/alice", "DELETE", rules + "/gha", nil, 403, "DENIED", "", ""},
		{"the administrator deletes", "dev/admin", "DELETE", rules + "/gha", nil, 204, "", "", ""},
		{"deleting again", "dev/admin", "DELETE", rules + "/gha", nil, 404, "NOT_FOUND", "", ""},
		{"the user name oidc is reserved", "dev/admin", "POST", "/api/tenancies/dev/users", map[string]any{"name": "oidc"}, 400, "INVALID", "reserved", ""},
	})
	got := e.audit("dev")
	hasAll(t, got, "dev/admin put federation rule gha", "dev/admin put federation rule k8s", "dev/admin delete federation rule gha")
	es, err := e.meta.ListAudit(context.Background(), "dev", "", 100)
	must(t, err)
	for _, ev := range es {
		if ev.Action == "put federation rule" && ev.Target == "k8s" && !strings.Contains(ev.Detail, "issuer=https://oidc.eks.eu-west-1.amazonaws.com/id/ABC") {
			t.Errorf("audit detail %q does not name the issuer", ev.Detail)
		}
	}
	list, err := e.meta.ListFederationRules(context.Background(), "dev")
	must(t, err)
	if len(list) != 1 || list[0].Name != "k8s" {
		t.Fatalf("rules left: %+v", list)
	}
}
