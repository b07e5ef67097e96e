package auth

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// What the console's Retention and Access pages call, through the
// gateway on both backends: an override written with its repositories
// (previewed first, then saved with If-Match), the access check, and
// the audit trail filtered.
func TestConsoleServicesAPI(t *testing.T) {
	onBackends(t, func(t *testing.T, backend string) {
		r := start(t, backend)
		admin := r.admin()
		pusher := client{r, r.as("dev/manager"), basicMode}
		pusher.pushImage("dev/app", "v1", newImage("app"))
		pusher.pushImage("dev/web", "v1", newImage("web"))

		body := []byte(`{"untaggedDays":1,"repositories":["dev/app"]}`)
		res := admin.do("PUT", "/api/retention/policies/ci?dryRun=true", body, nil)
		var ans struct {
			Version      int64
			Repositories []string
			Impact       struct{ Repositories, Images int }
			Changes      []struct{ Field string }
		}
		if res.Status != http.StatusOK || json.Unmarshal(res.Body, &ans) != nil || ans.Impact.Repositories != 1 || ans.Impact.Images != 1 ||
			len(ans.Repositories) != 1 || ans.Repositories[0] != "dev/app" {
			t.Fatalf("preview: %v", res)
		}
		if res := admin.do("PUT", "/api/retention/policies/ci", body, http.Header{"If-Match": {`"0"`}}); res.Status != http.StatusCreated ||
			!strings.Contains(string(res.Body), `"repositories":["dev/app"]`) {
			t.Fatalf("save: %v", res)
		}
		if res := admin.do("GET", "/api/retention/repositories/dev/app", nil, nil); !strings.Contains(string(res.Body), `"assigned":true,"policy":"ci"`) {
			t.Errorf("dev/app's policy: %v", res)
		}
		if res := admin.do("PATCH", "/api/retention/policies/ci", []byte(`{"repositories":["dev/web"]}`), nil); res.Status != http.StatusOK {
			t.Fatalf("move to dev/web: %v", res)
		}
		if res := admin.do("GET", "/api/retention/repositories/dev/app", nil, nil); !strings.Contains(string(res.Body), `"assigned":false,"policy":"global"`) {
			t.Errorf("dev/app after the move: %v", res)
		}

		for _, c := range []struct{ q, want string }{
			{"group=users&verb=use&repository=dev/app", `"allowed":true,"holds":"use"`},
			{"group=readers&verb=use&repository=dev/app", `"allowed":false,"holds":"read"`},
			{"group=team&verb=use&repository=dev/team-x", `"allowed":true`},
			{"group=team&verb=read&repository=dev/app", `"allowed":false`},
		} {
			if res := admin.do("GET", "/api/tenancies/dev/access-check?"+c.q, nil, nil); res.Status != 200 || !strings.Contains(string(res.Body), c.want) {
				t.Errorf("access-check?%s: %v, want %s", c.q, res, c.want)
			}
		}
		if res := (client{r, r.as("dev/manager"), basicMode}).do("GET", "/api/tenancies/dev/access-check?group=users&verb=use&repository=dev/app", nil, nil); res.Status != http.StatusForbidden {
			t.Errorf("a manager who administers nothing asks: %v", res)
		}
		res = admin.do("GET", "/api/tenancies/dev/audit?action=assign", nil, nil)
		if res.Status != 200 || !strings.Contains(string(res.Body), `"action":"assign retention policy"`) || strings.Contains(string(res.Body), `"action":"push"`) {
			t.Errorf("audit filtered by assign: %v", res)
		}
	})
}
