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

// policyAPI is the retention API over e, called as dev/admin.
type policyAPI struct {
	t *testing.T
	h http.Handler
}

func newPolicyAPI(t *testing.T, e *env) policyAPI {
	e.must("tenancy", e.meta.CreateTenancy(e.ctx(), store.Tenancy{Name: "dev"}))
	e.must("user", e.meta.PutUser(e.ctx(), store.User{Tenancy: "dev", Name: "admin", Groups: []string{auth.AdminGroup}}))
	return policyAPI{t: t, h: retention.NewAPI(e.svc, e.meta, retention.APIConfig{Tenancy: "dev"})}
}

// answer is a policy write's answer, as far as the tests read it.
type answer struct {
	Name           string   `json:"name"`
	NotPulledDays  int      `json:"notPulledDays"`
	UntaggedDays   int      `json:"untaggedDays"`
	ExemptTags     []string `json:"exemptTags"`
	MaxDeleteShare float64  `json:"maxDeleteShare"`
	MaxDeleteCount int      `json:"maxDeleteCount"`
	Version        int64    `json:"version"`
	Changes        []retention.Change
	DryRun         bool              `json:"dryRun"`
	Impact         *retention.Impact `json:"impact"`
}

// do sends a request and returns the status, the raw body and the
// answer decoded.
func (p policyAPI) do(method, path, body string, header ...string) (int, string, answer) {
	p.t.Helper()
	r := httptest.NewRequest(method, path, strings.NewReader(body))
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	r = r.WithContext(authz.WithDecision(r.Context(), authz.Decision{Allow: true, Principal: auth.Principal{Tenancy: "dev", User: "admin"}}))
	w := httptest.NewRecorder()
	p.h.ServeHTTP(w, r)
	var a answer
	_ = json.Unmarshal(w.Body.Bytes(), &a)
	return w.Code, w.Body.String(), a
}

func fields(cs []retention.Change) map[string]bool {
	out := map[string]bool{}
	for _, c := range cs {
		out[c.Field] = c.RemovesProtection
	}
	return out
}

// TestPatchChangesOnlyWhatItNames is the scenario through the
// API: set three options, then one; the other two stay.
func TestPatchChangesOnlyWhatItNames(t *testing.T) {
	e := newEnv(t)
	api := newPolicyAPI(t, e)
	const global = "/api/retention/policies/global"

	status, body, _ := api.do("GET", global, "")
	if status != 200 || strings.Contains(body, "0001-01-01") || strings.Contains(body, "coolingUntil") {
		t.Errorf("a never-set global policy: %d %s; want no zero time and no cooling end", status, body)
	}
	status, body, a := api.do("PATCH", global, `{"notPulledDays":10,"exemptTags":["keep-*","*-prod"],"maxDeleteShare":1}`)
	if status != 201 || a.Version != 1 || len(a.Changes) != 3 {
		t.Fatalf("first PATCH: %d %s", status, body)
	}
	if got := fields(a.Changes); !got["notPulledDays"] || got["exemptTags"] || !got["maxDeleteShare"] {
		t.Errorf("first PATCH: protections removed %v; want notPulledDays (turned on) and maxDeleteShare (50%% → no limit), not exemptTags (added)", got)
	}
	status, body, a = api.do("PATCH", global, `{"notPulledDays":60}`)
	if status != 200 || a.NotPulledDays != 60 || strings.Join(a.ExemptTags, ",") != "keep-*,*-prod" || a.MaxDeleteShare != 1 || a.Version != 2 {
		t.Fatalf("second PATCH dropped what it did not name: %d %s", status, body)
	}
	if len(a.Changes) != 1 || a.Changes[0].Summary != "not pulled for: 10 days → 60 days" || a.Changes[0].RemovesProtection {
		t.Errorf("second PATCH changes %+v; want one, a longer threshold (no protection removed)", a.Changes)
	}
	if _, _, a = api.do("PATCH", global, `{"notPulledDays":60}`); len(a.Changes) != 0 || a.Version != 2 {
		t.Errorf("a PATCH that changes nothing: %+v; want no change and no new version", a)
	}

	// Clearing is explicit: null (or an empty list) clears.
	_, _, a = api.do("PATCH", global, `{"exemptTags":null}`, "If-Match", `"2"`)
	if len(a.ExemptTags) != 0 || a.NotPulledDays != 60 || len(a.Changes) != 1 || !a.Changes[0].RemovesProtection ||
		!strings.Contains(a.Changes[0].Summary, "no longer exempt: keep-*, *-prod") {
		t.Errorf("clearing the exempt tags: %+v", a)
	}
	if status, _, _ := api.do("PATCH", global, `{"untaggedDays":3}`, "If-Match", `"2"`); status != http.StatusPreconditionFailed {
		t.Errorf("If-Match of an old version: %d, want 412", status)
	}
	// PUT replaces the whole policy.
	status, body, a = api.do("PUT", global, `{"untaggedDays":3}`)
	if status != 200 || a.NotPulledDays != 0 || a.MaxDeleteShare != 0 || a.UntaggedDays != 3 || len(a.Changes) != 3 {
		t.Errorf("PUT: %d %s; want every unnamed field back to its default, and three changes", status, body)
	}

	for _, tc := range []struct{ body, want string }{
		{`{"notPulledDays":"ten"}`, "notPulledDays"},
		{`{"notPulledDay":10}`, "has no field"},
		{`{"exemptTags":["a b"]}`, "exempt tag pattern"},
		{`[]`, "JSON"},
	} {
		if status, body, _ := api.do("PATCH", global, tc.body); status != 400 || !strings.Contains(body, tc.want) {
			t.Errorf("PATCH %s: %d %s, want 400 saying %q", tc.body, status, body, tc.want)
		}
	}
	if status, body, _ := api.do("PATCH", "/api/retention/policies/weekly", `{"untaggedDays":7}`); status != 201 || !strings.Contains(body, `"untaggedDays":7`) {
		t.Errorf("PATCH creates a missing override: %d %s", status, body)
	}
}

// TestDryRunSaysWhatAChangeWouldDelete: removing an exempt pattern
// reports, before anything is saved, the images a run would now delete.
func TestDryRunSaysWhatAChangeWouldDelete(t *testing.T) {
	e := newEnv(t)
	api := newPolicyAPI(t, e)
	e.image("dev/app", "old", t0, []string{"v1"})
	kept := e.image("dev/app", "kept", t0, []string{"keep-1"})
	e.image("dev/app", "fresh", days(35), []string{"v2"})
	e.image("dev/svc", "svc", t0, []string{"keep-2"})
	e.now = days(40)
	const global = "/api/retention/policies/global"
	api.do("PATCH", global, `{"notPulledDays":30,"exemptTags":["keep-*"],"maxDeleteShare":1}`)

	status, body, a := api.do("PATCH", global+"?dryRun=true", `{"exemptTags":[]}`)
	im := a.Impact
	if status != 200 || !a.DryRun || a.Version != 1 || im == nil {
		t.Fatalf("dry run: %d %s", status, body)
	}
	if im.Repositories != 2 || im.Images != 4 || im.Before != 1 || im.After != 3 || im.More != 2 || im.Unexempted != 2 || len(im.Examples) != 2 || !im.AsOf.Equal(days(40)) {
		t.Errorf("impact %+v; want 2 repositories, 4 images, 1 deleted before, 3 after, 2 more and 2 no longer exempt (the keep-* images), as of day 40", im)
	}
	if im.Examples[0].Digest != kept || !strings.Contains(im.Examples[0].Reason, "not pulled") {
		t.Errorf("first example %+v, want the keep-1 image, not pulled", im.Examples[0])
	}
	if p, _ := e.meta.GetRetentionPolicy(e.ctx(), "dev", "global"); len(p.ExemptTags) != 1 || p.Version != 1 {
		t.Errorf("the dry run saved: %+v", p)
	}

	// With the breaker back at its default (half a repository's images)
	// a run holds back all three: 2 of 3 in dev/app, 1 of 1 in dev/svc.
	_, _, a = api.do("PATCH", global+"?dryRun=true", `{"exemptTags":[],"maxDeleteShare":null}`)
	if a.Impact.After != 0 || a.Impact.HeldBack != 3 || a.Impact.More != 0 {
		t.Errorf("with the breaker at its default: %+v; want nothing deleted, 3 held back", a.Impact)
	}
}
