package retention

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"github.com/berth-registry/berth/shared/store"
)

// activity is an image's activity as the admin API shows it.
type activity struct {
	FirstPushed time.Time `json:"firstPushed"`
	LastPushed  time.Time `json:"lastPushed"`
	LastPulled  time.Time `json:"lastPulled"`
	Pulls       int64     `json:"pulls"`
}

func (s *server) activity(repo string, d v1.Hash) activity {
	s.t.Helper()
	var a activity
	s.api("GET", "/api/images/"+repo+"@"+d.String(), nil, http.StatusOK, &a)
	return a
}

// TestOneClock pushes on day 0 and moves the test clock: push, tag,
// pull, token, policy, run, bin, restore and collection times all read
// the one clock, so each is exactly the day the test expects. It also
// settles what a re-tag does: a re-tag is a push (docs/retention.md
// "Activity"), so it restarts the not-pulled countdown, and crane tag,
// which reads the manifest first, is a pull as well.
func TestOneClock(t *testing.T) {
	s := start(t)
	c := &content{s: s, auth: remote.WithAuth(&authn.Basic{Username: "dev/admin", Password: s.token}),
		images: map[string]v1.Hash{}, layers: map[string]v1.Layer{}}
	day := func(n int) time.Time { return s.day0.AddDate(0, 0, n) }
	same := func(what string, got, want time.Time) {
		t.Helper()
		if !got.Equal(want) {
			t.Errorf("%s = %v, want %v", what, got, want)
		}
	}

	s.noZeroTimes("/api/retention/policies", "/api/retention/policies/global")

	// Day 0: push A, B, C and E; a registry token and an auth token.
	imgC := c.image("c")
	c.push("A", "dev/app", "a", c.image("a"))
	c.push("B", "dev/app", "b", c.image("b"))
	c.push("C", "dev/app", "c", imgC)
	c.push("E", "dev/app", "e", c.image("e"))
	a := s.activity("dev/app", c.images["A"])
	if same("A's first push", a.FirstPushed, day(0)); !a.LastPushed.Equal(day(0)) || !a.LastPulled.IsZero() || a.Pulls != 0 {
		t.Errorf("A on day 0: %+v, want pushed on day 0 and never pulled", a)
	}
	var repo struct {
		Tags []struct {
			Name    string    `json:"name"`
			Updated time.Time `json:"updated"`
		} `json:"tags"`
	}
	s.api("GET", "/api/repositories/dev/app", nil, http.StatusOK, &repo)
	for _, tg := range repo.Tags {
		same("tag "+tg.Name+" set", tg.Updated, day(0))
	}
	iat, exp := s.registryToken()
	same("registry token issued", iat, day(0))
	same("registry token expires", exp, day(0).Add(15*time.Minute))
	var tok struct {
		Token   string    `json:"token"`
		Expires time.Time `json:"expires"`
	}
	s.api("POST", "/api/tenancies/dev/users/admin/tokens", map[string]any{"description": "ten days", "expiresInDays": 10}, http.StatusCreated, &tok)
	same("auth token expiry", tok.Expires, day(10))
	if res := s.basic("dev/admin", tok.Token); res != http.StatusOK {
		t.Errorf("the ten-day auth token on day 0: %d", res)
	}

	// Day 20: the auth token has expired (even though its check is
	// cached for seconds of wall time); pull B, crane tag A (a pull and
	// a push), re-tag C as docker push does (a push, no pull).
	s.advance(20 * day1)
	if res := s.basic("dev/admin", tok.Token); res != http.StatusUnauthorized {
		t.Errorf("the ten-day auth token on day 20: %d, want 401", res)
	}
	iat, _ = s.registryToken()
	same("registry token issued on day 20", iat, day(20))
	if _, err := remote.Image(c.ref("dev/app", "b"), c.auth); err != nil {
		t.Fatal(err)
	}
	if err := crane.Tag(s.host+"/dev/app:a", "a-prod", crane.Insecure, crane.WithAuth(&authn.Basic{Username: "dev/admin", Password: s.token})); err != nil {
		t.Fatalf("crane tag: %v", err)
	}
	cProd, err := name.NewTag(s.host+"/dev/app:c-prod", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Tag(cProd, imgC, c.auth); err != nil {
		t.Fatalf("re-tag C: %v", err)
	}
	for name, want := range map[string]activity{
		"A": {FirstPushed: day(0), LastPushed: day(20), LastPulled: day(20), Pulls: 1},
		"B": {FirstPushed: day(0), LastPushed: day(0), LastPulled: day(20), Pulls: 1},
		"C": {FirstPushed: day(0), LastPushed: day(20)},
	} {
		if got := s.activity("dev/app", c.images[name]); !sameActivity(got, want) {
			t.Errorf("%s on day 20: %+v, want %+v", name, got, want)
		}
	}
	var pol struct {
		Created      time.Time `json:"created"`
		CoolingUntil time.Time `json:"coolingUntil"`
	}
	s.api("PATCH", "/api/retention/policies/global", map[string]any{"notPulledDays": 30}, http.StatusCreated, &pol)
	same("policy created", pol.Created, day(20))
	same("policy cooling until", pol.CoolingUntil, day(20).Add(6*time.Hour))

	// Day 35: E, pushed on day 0 and left alone, has gone 35 days
	// without activity; A, B and C only 15 since day 20.
	s.advance(15 * day1)
	dry := c.decided(s.run(map[string]any{"dryRun": true}).Dec)
	if len(dry) != 1 || dry["E"].Action != store.ActionDelete ||
		!strings.Contains(dry["E"].Reason, "not pulled since its last push 35 days ago ("+day(0).Format("2006-01-02")+")") {
		t.Errorf("day 35 dry run decided %+v; want only E, counted from its push on day 0", dry)
	}
	c.push("D", "dev/app", "d", c.image("d"))

	// Day 55: A, B and C have gone 35 days without activity, D 20.
	s.advance(20 * day1)
	got := c.decided(s.run(map[string]any{"confirm": true}).Dec)
	for _, n := range []string{"A", "B", "C", "E"} {
		if got[n].Action != store.ActionDelete || !got[n].Time.Equal(day(55)) {
			t.Errorf("day 55: %s %+v, want deleted on day 55", n, got[n])
		}
	}
	if !strings.Contains(got["C"].Reason, "not pulled since its last push 35 days ago ("+day(20).Format("2006-01-02")+")") {
		t.Errorf("C's reason %q, want it to count from its re-tag on day 20", got["C"].Reason)
	}
	if !strings.Contains(got["A"].Reason, "last pulled 35 days ago") {
		t.Errorf("A's reason %q, want it to count from crane tag's pull on day 20", got["A"].Reason)
	}
	if _, ok := got["D"]; ok || !c.stored("dev/app", "D") {
		t.Errorf("D, pushed on day 35, was judged on day 55: %+v", got["D"])
	}
	var bin struct {
		Images []struct {
			Digest           string
			Deleted, Expires time.Time
		}
	}
	s.api("GET", "/api/retention/bin?repository=dev/app", nil, http.StatusOK, &bin)
	for _, b := range bin.Images {
		same("binned "+b.Digest[:19], b.Deleted, day(55))
		same("bin expiry of "+b.Digest[:19], b.Expires, day(57))
	}
	var gc struct{ Cutoff time.Time }
	s.api("POST", "/api/retention/gc", nil, http.StatusOK, &gc)
	same("collection cutoff", gc.Cutoff, day(55).Add(-time.Hour))

	// Day 56: restore A; it counts as pushed again.
	s.advance(day1)
	s.api("POST", "/api/retention/bin/restore", map[string]string{"repository": "dev/app", "digest": c.images["A"].String()}, http.StatusOK, nil)
	var details struct {
		Restored   time.Time `json:"restored"`
		LastPushed time.Time `json:"lastPushed"`
	}
	s.api("GET", "/api/retention/images/dev/app@"+c.images["A"].String(), nil, http.StatusOK, &details)
	same("A restored", details.Restored, day(56))
	same("A's last push after the restore", details.LastPushed, day(20))
	// The audit trail reads the one clock too: the restore, the pin
	// below and day 20's policy change are stamped with their days.
	var audit struct {
		Events []struct {
			Time   time.Time `json:"time"`
			Action string    `json:"action"`
		} `json:"events"`
	}
	s.api("GET", "/api/tenancies/dev/audit", nil, http.StatusOK, &audit)
	stamped := map[string]time.Time{}
	for _, e := range audit.Events {
		if _, seen := stamped[e.Action]; !seen { // newest first
			stamped[e.Action] = e.Time
		}
	}
	if _, ok := stamped["restore image"]; !ok {
		t.Errorf("no audit of the restore among %v", stamped)
	}
	for action, at := range stamped {
		if at.Before(day(0)) || at.After(day(56)) {
			t.Errorf("audit %q stamped %v, outside the test clock's days 0–56", action, at)
		}
		if action == "restore image" {
			same("audit of the restore", at, day(56))
		}
	}
	last := s.run(map[string]any{"dryRun": true})
	if dry := c.decided(last.Dec); dry["A"].Action == store.ActionDelete {
		t.Errorf("a run right after the restore deletes A again: %+v", dry["A"])
	}

	s.api("PUT", "/api/retention/pins/dev/app@"+c.images["D"].String(), map[string]string{"note": "no expiry"}, http.StatusOK, nil)
	d := "dev/app@" + c.images["D"].String()
	s.noZeroTimes("/api/retention/policies", "/api/retention/runs", "/api/retention/runs/"+last.ID, "/api/retention/runs/"+last.ID+"/decisions",
		"/api/retention/bin?repository=dev/app", "/api/retention/pins?repository=dev/app", "/api/retention/images/"+d, "/api/images/"+d,
		"/api/repositories/dev/app", "/api/repositories?tenancy=dev", "/api/tenancies", "/api/tenancies/dev/users", "/api/tenancies/dev/users/admin",
		"/api/tenancies/dev/users/admin/tokens", "/api/tenancies/dev/groups", "/api/tenancies/dev/audit", "/api/retention/clock")
}

// noZeroTimes fails the test where an API answer shows a zero time: an
// unset time is omitted.
func (s *server) noZeroTimes(paths ...string) {
	s.t.Helper()
	for _, p := range paths {
		res := s.do("GET", p, nil, nil)
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || strings.Contains(string(b), "0001-01-01") {
			s.t.Errorf("GET %s: %d %s", p, res.StatusCode, b)
		}
	}
}

// day1 is one day.
const day1 = 24 * time.Hour

func sameActivity(a, b activity) bool {
	return a.FirstPushed.Equal(b.FirstPushed) && a.LastPushed.Equal(b.LastPushed) && a.LastPulled.Equal(b.LastPulled) && a.Pulls == b.Pulls
}

// registryToken gets a registry token as docker does and returns its
// issued-at and expiry claims.
func (s *server) registryToken() (iat, exp time.Time) {
	s.t.Helper()
	q := url.Values{"service": {"berth"}, "scope": {"repository:dev/app:pull"}}
	res := s.do("GET", "/token?"+q.Encode(), nil, nil)
	defer res.Body.Close()
	var body struct{ Token string }
	if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != 200 {
		s.t.Fatalf("GET /token: %d %v", res.StatusCode, err)
	}
	parts := strings.Split(body.Token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		s.t.Fatal(err)
	}
	var claims struct{ Iat, Exp int64 }
	if err := json.Unmarshal(payload, &claims); err != nil {
		s.t.Fatal(err)
	}
	return time.Unix(claims.Iat, 0).UTC(), time.Unix(claims.Exp, 0).UTC()
}

// basic sends GET /v2/ with Basic credentials and returns the status.
func (s *server) basic(user, password string) int {
	s.t.Helper()
	req, _ := http.NewRequest("GET", "http://"+s.host+"/v2/", nil)
	req.SetBasicAuth(user, password)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}
