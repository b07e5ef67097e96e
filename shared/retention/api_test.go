package retention_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/retention"
	"github.com/berth-registry/berth/shared/store"
)

// call sends one request to the retention API as principal p (nil:
// anonymous) and returns the status and the error code, if any.
func call(t *testing.T, h http.Handler, p *auth.Principal, method, path, body string) (int, string) {
	t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	if p != nil {
		r = r.WithContext(authz.WithDecision(r.Context(), authz.Decision{Allow: true, Principal: *p}))
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var eb struct{ Errors []struct{ Code string } }
	_ = json.Unmarshal(w.Body.Bytes(), &eb)
	code := ""
	if len(eb.Errors) > 0 {
		code = eb.Errors[0].Code
	}
	return w.Code, code
}

func TestAPI(t *testing.T) {
	e := newEnv(t)
	for _, u := range []store.User{{Tenancy: "dev", Name: "admin", Groups: []string{auth.AdminGroup}}, {Tenancy: "dev", Name: "dev1"}, {Tenancy: "other", Name: "admin", Groups: []string{auth.AdminGroup}}} {
		e.must("user", e.meta.PutUser(e.ctx(), u))
	}
	for _, tn := range []string{"dev", "other"} {
		e.must("tenancy", e.meta.CreateTenancy(e.ctx(), store.Tenancy{Name: tn}))
	}
	e.image("dev/app", "a", t0, nil)
	cfg := e.svc.Config()
	cfg.TestClock = false
	svc := retention.New(retention.Stores{Meta: e.meta, Ret: e.meta, Blobs: e.objs, Tenancies: e.meta}, cfg, quiet)
	h := retention.NewAPI(svc, e.meta, retention.APIConfig{Tenancy: "dev"})
	admin := &auth.Principal{Tenancy: "dev", User: "admin"}
	member := &auth.Principal{Tenancy: "dev", User: "dev1"}
	outsider := &auth.Principal{Tenancy: "other", User: "admin"}

	tests := []struct {
		name         string
		who          *auth.Principal
		method, path string
		body         string
		status       int
		code         string
	}{
		{"anonymous → 401", nil, "GET", "/api/retention/policies", "", 401, "UNAUTHORIZED"},
		{"a member who is no administrator → 403", member, "GET", "/api/retention/policies", "", 403, "DENIED"},
		{"another tenancy's administrator → 403", outsider, "GET", "/api/retention/policies?tenancy=dev", "", 403, "DENIED"},
		{"create an override", admin, "POST", "/api/retention/policies", `{"name":"weekly","untaggedDays":7}`, 201, ""},
		{"create it again → 409", admin, "POST", "/api/retention/policies", `{"name":"weekly"}`, 409, "CONFLICT"},
		{"POST the global policy → 409", admin, "POST", "/api/retention/policies", `{"name":"global"}`, 409, "CONFLICT"},
		{"a misspelt field → 400", admin, "PUT", "/api/retention/policies/weekly", `{"untagedDays":7}`, 400, "INVALID"},
		{"negative days → 400", admin, "PUT", "/api/retention/policies/weekly", `{"untaggedDays":-1}`, 400, "INVALID"},
		{"a bad exempt pattern → 400", admin, "PUT", "/api/retention/policies/weekly", `{"exemptTags":["a b"]}`, 400, "INVALID"},
		{"edit it", admin, "PUT", "/api/retention/policies/weekly", `{"untaggedDays":14,"exemptTags":["v*"]}`, 200, ""},
		{"get it", admin, "GET", "/api/retention/policies/weekly", "", 200, ""},
		{"assign a repository", admin, "PUT", "/api/retention/repositories/dev/app", `{"policy":"weekly"}`, 200, ""},
		{"assign to a missing policy → 404", admin, "PUT", "/api/retention/repositories/dev/db", `{"policy":"nope"}`, 404, "NOT_FOUND"},
		{"delete a policy that governs repositories → 409", admin, "DELETE", "/api/retention/policies/weekly", "", 409, "CONFLICT"},
		{"unassign", admin, "DELETE", "/api/retention/repositories/dev/app", "", 204, ""},
		{"unassign again → 404", admin, "DELETE", "/api/retention/repositories/dev/app", "", 404, "NOT_FOUND"},
		{"delete the policy", admin, "DELETE", "/api/retention/policies/weekly", "", 204, ""},
		{"asOf without the test clock → 400", admin, "POST", "/api/retention/runs", `{"asOf":"2030-01-01T00:00:00Z"}`, 400, "INVALID"},
		{"a dry run", admin, "POST", "/api/retention/runs", `{"dryRun":true,"repository":"dev/app"}`, 200, ""},
		{"a run over another tenancy's repository → 403", outsider, "POST", "/api/retention/runs", `{"repository":"dev/app"}`, 403, "DENIED"},
		{"pin", admin, "PUT", "/api/retention/pins/dev/app@sha256:" + strings.Repeat("a", 64), `{"expires":"2030-01-01T00:00:00Z"}`, 200, ""},
		{"pin with a bad digest → 400", admin, "PUT", "/api/retention/pins/dev/app@sha256:xyz", `{}`, 400, "DIGEST_INVALID"},
		{"restore what is not binned → 404", admin, "POST", "/api/retention/bin/restore", `{"repository":"dev/app","digest":"sha256:` + strings.Repeat("b", 64) + `"}`, 404, "NOT_FOUND"},
		{"garbage collection by another tenancy's administrator → 403", outsider, "POST", "/api/retention/gc", "", 403, "DENIED"},
		{"garbage collection by the bootstrap tenancy's administrator", admin, "POST", "/api/retention/gc", "", 200, ""},
		{"the clock without BERTH_TEST_CLOCK → 404", admin, "POST", "/api/retention/clock", `{"advance":"1h"}`, 404, "NOT_FOUND"},
		{"an unknown endpoint → 404", admin, "GET", "/api/retention/nope", "", 404, "NOT_FOUND"},
		{"a method the endpoint lacks → 405", admin, "DELETE", "/api/retention/runs", "", 405, "UNSUPPORTED"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, code := call(t, h, tc.who, tc.method, tc.path, tc.body)
			if status != tc.status || code != tc.code {
				t.Fatalf("%s %s: %d %q, want %d %q", tc.method, tc.path, status, code, tc.status, tc.code)
			}
		})
	}
	p, err := e.meta.GetRetentionPolicy(e.ctx(), "dev", "weekly")
	if err == nil {
		t.Errorf("the deleted policy is still stored: %+v", p)
	}
	runs, _ := e.meta.ListRuns(e.ctx(), "dev", "", 10)
	if len(runs) != 1 || !runs[0].DryRun || runs[0].By != "dev/admin" {
		t.Errorf("runs = %+v, want the one dry run by dev/admin", runs)
	}
}
