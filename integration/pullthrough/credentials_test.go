package pullthrough

import (
	"bytes"
	"net/http"
	"strings"
	"testing"

	"github.com/berth-registry/berth/integration/harness"
	"github.com/berth-registry/berth/shared/store"
)

// TestCredentialsNeverLeave: a rule's upstream password reaches the
// upstream's token realm and nothing else. It is stored sealed (a KMS
// key on the aws backend, the data directory's key on the embedded
// one), no admin API answer, registry answer or log line carries it —
// through rule reads and changes, pulls, the audit trail, and the
// errors of an upstream that refuses the credentials or is down.
func TestCredentialsNeverLeave(t *testing.T) {
	for _, backend := range harness.Backends {
		t.Run(backend, func(t *testing.T) {
			up := startDistribution(t)
			c := startCache(t, backend)
			c.rule("dev/hub", up, "1m")
			want := up.write(t, "library/app", "1", randomImage(t, 4096, 1))

			rec, err := c.local.Stores.Meta.(store.Cache).GetCacheRule(t.Context(), "dev", "dev/hub")
			if err != nil || len(rec.Credentials) == 0 || bytes.Contains(rec.Credentials, []byte(up.password)) {
				t.Fatalf("the stored rule (%v): credentials %d bytes, in clear: %v", err, len(rec.Credentials), bytes.Contains(rec.Credentials, []byte(up.password)))
			}
			var view map[string]any
			c.api("GET", "/api/tenancies/dev/cache-rules/dev/hub", nil, http.StatusOK, &view)
			if view["credentials"] != true {
				t.Errorf("the rule's view %v does not say it has credentials", view)
			}
			c.api("GET", "/api/tenancies/dev/cache-rules", nil, http.StatusOK, nil)
			if got := c.pull(t, c.ref("dev/hub/library/app", "1")); got != want {
				t.Fatalf("pull: %s, want %s", got, want)
			}
			c.api("PATCH", "/api/tenancies/dev/cache-rules/dev/hub", map[string]any{"refreshInterval": "0s"}, http.StatusOK, nil)
			c.api("GET", "/api/tenancies/dev/audit", nil, http.StatusOK, nil)

			// Wrong credentials: the upstream's token realm refuses.
			c.api("PATCH", "/api/tenancies/dev/cache-rules/dev/hub", map[string]any{
				"credentials": map[string]string{"username": up.user, "password": up.password + "-wrong"}}, http.StatusOK, nil)
			for _, path := range []string{"/v2/dev/hub/library/app/manifests/1", "/v2/dev/hub/library/app/manifests/2",
				"/v2/dev/hub/library/app/blobs/sha256:" + strings.Repeat("a", 64)} {
				res := c.do("GET", path, nil, "dev/admin", c.token)
				res.Body.Close()
				if path == "/v2/dev/hub/library/app/manifests/1" && (res.StatusCode != http.StatusOK || res.Header.Get("Warning") == "") {
					t.Errorf("with refused credentials: GET %s %d, Warning %q; want the cached copy with a warning", path, res.StatusCode, res.Header.Get("Warning"))
				}
			}
			up.counter.set("drop")
			res := c.do("GET", "/v2/dev/hub/library/app/manifests/3", nil, "dev/admin", c.token)
			res.Body.Close()
			c.noSecret(t, up.password)
		})
	}
}
