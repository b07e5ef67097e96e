// Package events is the end-to-end test of Berth's events and metrics:
// every event type produced by real requests through the local gateway
// (docker's registry API through go-containerregistry, the admin and
// retention APIs, /token) and received by a webhook sink that checks
// each delivery's signature, and none for a request that failed; and
// the EMF lines those requests logged, parsed and checked against
// docs/metrics.md.
package events

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-registry/berth/integration/harness"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/events"
	"github.com/berth-registry/berth/shared/metrics"
	"github.com/berth-registry/berth/shared/webhook"
)

const secret = "test-webhook-secret-0123456789"

// sink is a webhook endpoint: it keeps every event whose signature
// verifies, counts those that do not, and refuses its first deliveries
// so that the sender's retry is exercised.
type sink struct {
	mu     sync.Mutex
	events []events.Event
	bad    int
	refuse int
	seen   map[string]bool
}

func (s *sink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := webhook.Verify([]byte(secret), r.Header.Get(webhook.SignatureHeader), body, time.Now(), 5*time.Minute); err != nil {
		s.bad++
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if s.refuse > 0 {
		s.refuse--
		http.Error(w, "try later", http.StatusServiceUnavailable)
		return
	}
	var ev events.Event
	if err := json.Unmarshal(body, &ev); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if r.Header.Get("Berth-Event-Type") != ev.Type || r.Header.Get("Berth-Event-Id") != ev.ID {
		s.bad++
	}
	if !s.seen[ev.ID] { // a retried delivery repeats an id
		s.seen[ev.ID] = true
		s.events = append(s.events, ev)
	}
	w.WriteHeader(http.StatusNoContent)
}

// wait returns the events once n have arrived, failing after 10 s.
func (s *sink) wait(t *testing.T, n int) []events.Event {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s.mu.Lock()
		got := slices.Clone(s.events)
		s.mu.Unlock()
		if len(got) >= n || time.Now().After(deadline) {
			if len(got) < n {
				t.Fatalf("%d events arrived, want %d: %s", len(got), n, types(got))
			}
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func types(evs []events.Event) string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type+" "+e.Repository)
	}
	return strings.Join(out, ", ")
}

// client drives the registry as dev/admin.
type client struct {
	t     *testing.T
	host  string
	token string
	auth  remote.Option
}

// do sends a request as dev/admin and returns the status and the
// request id the gateway answered with.
func (c *client) do(method, path string, body any, user, pass string) (int, string) {
	c.t.Helper()
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, "http://"+c.host+path, r)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(user, pass)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, res.Header.Get("Apigw-Requestid")
}

// api sends a request as dev/admin, failing unless the status is want.
func (c *client) api(method, path string, body any, want int) string {
	c.t.Helper()
	status, id := c.do(method, path, body, "dev/admin", c.token)
	if status != want {
		c.t.Fatalf("%s %s: %d, want %d", method, path, status, want)
	}
	return id
}

func (c *client) push(repo, tag string, img v1.Image) v1.Hash {
	c.t.Helper()
	d, _ := img.Digest()
	ref := repo + "@" + d.String()
	if tag != "" {
		ref = repo + ":" + tag
	}
	r, err := name.ParseReference(c.host+"/"+ref, name.Insecure)
	if err != nil {
		c.t.Fatal(err)
	}
	if err := remote.Write(r, img, c.auth); err != nil {
		c.t.Fatalf("push %s: %v", ref, err)
	}
	return d
}

func image(t *testing.T) v1.Image {
	img, err := random.Image(256, 1)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

const day = 24 * time.Hour

func TestEveryEventReachesTheWebhook(t *testing.T) {
	hook := &sink{refuse: 2, seen: map[string]bool{}}
	hookHost := harness.Serve(t, hook)
	cfg := config.Config{Backend: "embedded", Data: t.TempDir(), Limits: true, PresignTTL: 15 * time.Minute,
		Auth: true, Service: "berth", TokenTTL: 5 * time.Minute, Tenancy: "dev", LogLevel: "warn", TestClock: true,
		WebhookURL: "http://" + hookHost + "/hook", WebhookSecret: secret,
		LoginAlertThreshold: 3, LoginAlertWindow: 5 * time.Minute}
	var emf harness.Logs
	host, l := harness.Start(t, cfg, harness.Metrics(&emf))
	c := &client{t: t, host: host, token: l.AdminToken,
		auth: remote.WithAuth(&authn.Basic{Username: "dev/admin", Password: l.AdminToken})}

	// Pushes: a new repository, then a tag moved.
	a := c.push("dev/app", "v1", image(t))
	b := c.push("dev/app", "v1", image(t))
	// Client deletes: a tag, then an image by digest.
	delTag := c.api("DELETE", "/v2/dev/app/manifests/v1", nil, http.StatusAccepted)
	c.api("DELETE", "/v2/dev/app/manifests/"+a.String(), nil, http.StatusAccepted)
	// Requests that fail change nothing and publish nothing.
	var failed []string
	failed = append(failed, c.api("DELETE", "/v2/dev/app/manifests/v1", nil, http.StatusNotFound))
	failed = append(failed, c.api("PATCH", "/api/repositories/dev/nosuch", map[string]bool{"public": true}, http.StatusNotFound))
	failed = append(failed, c.api("POST", "/api/repositories", map[string]any{"name": "dev/app"}, http.StatusConflict))
	failed = append(failed, c.api("PUT", "/api/tenancies/dev/policies/bad", map[string]any{"statements": []string{"allow nobody"}}, http.StatusBadRequest))
	// The repository API: created, made public, a setting that is not
	// visibility (no event), deleted.
	c.api("POST", "/api/repositories", map[string]any{"name": "dev/web"}, http.StatusCreated)
	c.api("PATCH", "/api/repositories/dev/web", map[string]bool{"public": true}, http.StatusOK)
	c.api("PATCH", "/api/repositories/dev/web", map[string]bool{"immutableTags": true}, http.StatusOK)
	c.api("DELETE", "/api/repositories/dev/web", nil, http.StatusOK)
	// Access policies.
	c.api("PUT", "/api/tenancies/dev/policies/readers", map[string]any{"statements": []string{"allow group readers to read repos in tenancy"}}, http.StatusOK)
	c.api("DELETE", "/api/tenancies/dev/policies/readers", nil, http.StatusNoContent)
	// Retention: a policy, an assignment, an untagged image it deletes,
	// the run's outcome, a restore, and the unassignment.
	// (The run deletes the repository's only image, so it must be
	// confirmed past the circuit breaker.)
	untagged := c.push("dev/old", "", image(t))
	c.api("POST", "/api/retention/policies", map[string]any{"name": "short", "untaggedDays": 1}, http.StatusCreated)
	c.api("PUT", "/api/retention/repositories/dev/old", map[string]string{"policy": "short"}, http.StatusOK)
	c.api("POST", "/api/retention/clock", map[string]string{"advance": (2 * day).String()}, http.StatusOK)
	stoppedID := c.run(map[string]any{"repository": "dev/old"})
	runID := c.run(map[string]any{"repository": "dev/old", "confirm": true})
	c.api("POST", "/api/retention/runs/"+runID+"/restore", nil, http.StatusOK)
	c.api("DELETE", "/api/retention/repositories/dev/old", nil, http.StatusNoContent)
	// A pull, and a garbage collection (for their metrics).
	if _, err := remote.Image(mustRef(t, host+"/dev/app@"+b.String()), c.auth); err != nil {
		t.Fatalf("pull: %v", err)
	}
	c.api("POST", "/api/retention/gc", nil, http.StatusOK)
	// Logins refused: the third in the window raises the alert; later
	// ones in the same window do not again.
	for range 5 {
		if status, _ := c.do("GET", "/token?service=berth", nil, "dev/admin", "bt_AAAAAAAAAAAAAAAA_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"); status != http.StatusUnauthorized {
			t.Fatalf("a wrong auth token at /token: %d, want 401", status)
		}
	}

	want := []struct {
		typ, repo string
		check     func(ev events.Event) error
	}{
		{events.RepositoryCreated, "dev/app", nil},
		{events.ManifestPushed, "dev/app", data(func(d events.ManifestPushedData) bool {
			return d.Digest.String() == a.String() && slices.Equal(d.Tags, []string{"v1"})
		})},
		{events.TagMoved, "dev/app", data(func(d events.TagMovedData) bool {
			return d.Tag == "v1" && d.Digest.String() == b.String() && d.PreviousDigest.String() == a.String()
		})},
		{events.ManifestPushed, "dev/app", data(func(d events.ManifestPushedData) bool { return d.Digest.String() == b.String() })},
		{events.TagDeleted, "dev/app", func(ev events.Event) error {
			if ev.RequestID != delTag {
				return fmt.Errorf("request id %q, want the DELETE's %q", ev.RequestID, delTag)
			}
			return data(func(d events.TagDeletedData) bool { return d.Tag == "v1" && d.Digest.String() == b.String() })(ev)
		}},
		{events.ImageDeleted, "dev/app", data(func(d events.ImageDeletedData) bool { return d.Digest.String() == a.String() })},
		{events.RepositoryCreated, "dev/web", nil},
		{events.RepositoryVisibilityChange, "dev/web", data(func(d events.RepositoryData) bool { return d.Public })},
		{events.RepositoryDeleted, "dev/web", nil},
		{events.PolicyChanged, "", data(func(d events.PolicyData) bool { return d.Policy == "readers" && d.Change == events.Created })},
		{events.PolicyChanged, "", data(func(d events.PolicyData) bool { return d.Policy == "readers" && d.Change == events.Deleted })},
		{events.RepositoryCreated, "dev/old", nil},
		{events.ManifestPushed, "dev/old", data(func(d events.ManifestPushedData) bool {
			return d.Digest.String() == untagged.String() && len(d.Tags) == 0
		})},
		{events.RetentionPolicyChanged, "", data(func(d events.RetentionPolicyData) bool {
			return d.Policy == "short" && d.Change == events.Created && d.UntaggedDays == 1
		})},
		{events.RetentionPolicyChanged, "dev/old", data(func(d events.RetentionPolicyData) bool { return d.Change == events.Assigned })},
		{events.RetentionRunFinished, "dev/old", data(func(d events.RunFinishedData) bool {
			return d.RunID == stoppedID && d.Deleted == 0 && d.BreakerTrips == 1
		})},
		{events.ImageDeleted, "dev/old", func(ev events.Event) error {
			if ev.Actor.Type != events.ActorRetention || ev.Actor.RunID != runID {
				return fmt.Errorf("actor %+v, want retention run %s", ev.Actor, runID)
			}
			return data(func(d events.ImageDeletedData) bool {
				return d.Digest.String() == untagged.String() && d.Policy == "short"
			})(ev)
		}},
		{events.RetentionRunFinished, "dev/old", data(func(d events.RunFinishedData) bool {
			return d.RunID == runID && d.Deleted == 1 && d.Repositories == 1 && d.BreakerTrips == 0
		})},
		{events.ImageRestored, "dev/old", data(func(d events.ImageRestoredData) bool {
			return d.Digest.String() == untagged.String() && d.DeletedBy == runID
		})},
		{events.RetentionPolicyChanged, "dev/old", data(func(d events.RetentionPolicyData) bool { return d.Change == events.Unassigned && d.Policy == "short" })},
		{events.LoginsRefused, "", data(func(d events.LoginsRefusedData) bool { return d.Refused == 3 && d.Threshold == 3 })},
	}
	hook.wait(t, len(want))
	time.Sleep(300 * time.Millisecond) // anything extra would be delivered by now
	got := hook.wait(t, len(want))
	if len(got) != len(want) {
		t.Errorf("%d events, want %d:\n got %s", len(got), len(want), types(got))
	}
	covered := map[string]bool{}
	for i, w := range want {
		if i >= len(got) {
			break
		}
		ev := got[i]
		covered[ev.Type] = true
		if ev.Type != w.typ || ev.Repository != w.repo {
			t.Errorf("event %d: %s %q, want %s %q", i, ev.Type, ev.Repository, w.typ, w.repo)
			continue
		}
		if ev.Version != events.Version || ev.ID == "" || ev.Tenancy != "dev" || ev.Time.IsZero() {
			t.Errorf("event %d (%s): envelope %+v", i, ev.Type, ev)
		}
		if ev.Type != events.LoginsRefused && ev.RequestID == "" {
			t.Errorf("event %d (%s) carries no request id", i, ev.Type)
		}
		if ev.Actor.Type == events.ActorUser && ev.Actor.Name != "dev/admin" {
			t.Errorf("event %d (%s): actor %+v, want dev/admin", i, ev.Type, ev.Actor)
		}
		if w.check != nil {
			if err := w.check(ev); err != nil {
				t.Errorf("event %d (%s): %v: %s", i, ev.Type, err, ev.Data)
			}
		}
		for _, id := range failed {
			if ev.RequestID == id {
				t.Errorf("event %d (%s) came from a request that failed (%s)", i, ev.Type, id)
			}
		}
	}
	for _, typ := range events.Types {
		if !covered[typ] {
			t.Errorf("no %s event was produced", typ)
		}
	}
	hook.mu.Lock()
	defer hook.mu.Unlock()
	if hook.bad != 0 || hook.refuse != 0 {
		t.Errorf("%d deliveries had a bad signature or headers; %d refusals left unretried", hook.bad, hook.refuse)
	}
	checkMetrics(t, emf.Tail(64<<20))
}

// checkMetrics parses every EMF line the requests logged and checks
// that the ones they must have made are there.
func checkMetrics(t *testing.T, lines string) {
	t.Helper()
	seen := map[string]float64{}
	for _, line := range strings.Split(strings.TrimSpace(lines), "\n") {
		samples, err := metrics.Parse([]byte(line))
		if err != nil {
			t.Errorf("EMF line %s: %v", line, err)
			continue
		}
		for _, s := range samples {
			key := s.Name
			if s.Dims["Route"] != "" {
				key += " " + s.Dims["Route"]
			} else if s.Dims["Tenancy"] != "" || s.Dims["Status"] != "" {
				key += " " + s.Dims["Tenancy"] + s.Dims["Status"]
			}
			seen[key] += s.Value
		}
	}
	for key, min := range map[string]float64{
		"Requests PUT /v2/{name}/manifests/{ref}": 3, "Requests DELETE /v2/{name}/manifests/{ref}": 3,
		"Errors DELETE /v2/{name}/manifests/{ref}": 0, // the 404 is not an error of the registry's
		"Latency GET /v2/{name}/manifests/{ref}":   0, "Requests PATCH /api/{proxy+}": 3,
		"Pushes dev": 3, "Pulls dev": 1, "BytesUploaded dev": 256 * 3, "AuthorizerDenials 401": 1,
		"RetentionDeletions dev": 1, "RetentionBreakerTrips": 1, "RetentionRunsFinished": 2, "GCBytesFreed": 0,
	} {
		if v, ok := seen[key]; !ok || v < min {
			t.Errorf("metric %s = %v (recorded: %v), want at least %v", key, v, ok, min)
		}
	}
}

func mustRef(t *testing.T, s string) name.Reference {
	r, err := name.ParseReference(s, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// run starts a retention run and returns its id.
func (c *client) run(body map[string]any) string {
	c.t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest("POST", "http://"+c.host+"/api/retention/runs", bytes.NewReader(b))
	req.SetBasicAuth("dev/admin", c.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil || res.StatusCode != http.StatusOK || out.ID == "" {
		c.t.Fatalf("retention run: %d, %v", res.StatusCode, err)
	}
	return out.ID
}

// data checks an event's data with ok.
func data[D any](ok func(D) bool) func(events.Event) error {
	return func(ev events.Event) error {
		var d D
		if err := json.Unmarshal(ev.Data, &d); err != nil {
			return err
		}
		if !ok(d) {
			return fmt.Errorf("unexpected data")
		}
		return nil
	}
}
