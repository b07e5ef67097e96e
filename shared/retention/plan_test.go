package retention

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/registry"
	"github.com/berth-registry/berth/shared/store"
)

// img builds an image named name (its digest is derived from the name).
type img struct {
	name     string
	pushed   time.Time
	pulled   time.Time
	tags     []string
	children []string
	subject  string
	marks    store.ImageMarks
}

func dg(name string) digest.Digest { return digest.FromString(name) }

func images(specs ...img) []Image {
	var out []Image
	for _, s := range specs {
		m := store.Manifest{Digest: dg(s.name), MediaType: "application/vnd.oci.image.manifest.v1+json", Created: s.pushed,
			Refs: []digest.Digest{dg(s.name + "/config")}}
		for _, c := range s.children {
			m.Refs = append(m.Refs, dg(c))
			m.MediaType = "application/vnd.oci.image.index.v1+json"
		}
		if s.subject != "" {
			m.Subject = dg(s.subject)
		}
		out = append(out, Image{Manifest: m, Tags: s.tags, Stats: store.ImageStats{Digest: m.Digest, LastPulled: s.pulled, ImageMarks: s.marks}})
	}
	return out
}

// names maps verdicts back to image names.
func names(vs []Verdict, specs []Image) []string {
	byDigest := map[digest.Digest]string{}
	for _, s := range []string{"a", "b", "c", "d", "e", "idx", "c1", "c2", "sig", "sbom", "orphan", "x"} {
		byDigest[dg(s)] = s
	}
	var out []string
	for _, v := range vs {
		out = append(out, byDigest[v.Digest])
	}
	return out
}

func days(n int) time.Time { return t0.Add(time.Duration(n) * day) }

// cfg is the configuration the plan tests run with: no cooling, no
// breaker unless a test sets one.
func cfg() Config {
	c := DefaultConfig()
	c.Cooling, c.MaxDeleteShare, c.MaxDeleteCount = 0, 1, -1
	return c
}

func TestEvaluate(t *testing.T) {
	notPulled30 := store.RetentionPolicy{Name: "p", NotPulledDays: 30, ExemptTags: []string{"keep-*"}}
	untagged7 := store.RetentionPolicy{Name: "p", UntaggedDays: 7}
	tests := []struct {
		name                   string
		policy                 store.RetentionPolicy
		images                 []Image
		pins                   []store.Pin
		now                    time.Time
		wantDelete, wantKeep   []string
		wantCriterion, wantWhy map[string]string
	}{
		{
			name:   "not pulled: unpulled and long-unpulled go, recently pulled, exempt and pinned stay",
			policy: notPulled30,
			images: images(img{name: "a", pushed: t0, tags: []string{"v1"}},
				img{name: "b", pushed: t0, pulled: days(20), tags: []string{"v2"}},
				img{name: "c", pushed: t0, tags: []string{"keep-1"}},
				img{name: "d", pushed: t0},
				img{name: "e", pushed: t0, pulled: days(1)}),
			pins:          []store.Pin{{Digest: dg("d")}, {Digest: dg("e"), Expires: days(35)}},
			now:           days(40),
			wantDelete:    []string{"e", "a"},
			wantKeep:      []string{"c", "d"},
			wantCriterion: map[string]string{"a": CriterionNotPulled, "e": CriterionNotPulled},
			wantWhy:       map[string]string{"c": `exempt by pattern "keep-*"`, "d": "pinned"},
		},
		{
			name:   "a tagged index keeps its children, which are not untagged",
			policy: untagged7,
			images: images(img{name: "idx", pushed: t0, tags: []string{"multi"}, children: []string{"c1", "c2"}},
				img{name: "c1", pushed: t0}, img{name: "c2", pushed: t0}, img{name: "x", pushed: t0}),
			now:        days(30),
			wantDelete: []string{"x"},
		},
		{
			name:   "an untagged index goes with its children, the index first",
			policy: untagged7,
			images: images(img{name: "idx", pushed: t0, children: []string{"c1", "c2"}},
				img{name: "c1", pushed: t0}, img{name: "c2", pushed: t0}),
			now:        days(30),
			wantDelete: []string{"idx", "c1", "c2"},
		},
		{
			name:   "a pinned untagged index keeps its untagged children",
			policy: untagged7,
			images: images(img{name: "idx", pushed: t0, children: []string{"c1"}}, img{name: "c1", pushed: t0}),
			pins:   []store.Pin{{Digest: dg("idx")}},
			now:    days(30),
			// Both are selected; the pin keeps idx, and idx keeps c1.
			wantKeep: []string{"c1", "idx"},
			wantWhy:  map[string]string{"c1": "kept with " + short(dg("idx"))},
		},
		{
			name:   "referrers follow their subject: deleted with it, kept with it",
			policy: notPulled30,
			images: images(img{name: "a", pushed: t0, tags: []string{"v1"}},
				img{name: "sig", pushed: t0, subject: "a"},
				img{name: "b", pushed: t0, pulled: days(39), tags: []string{"v2"}},
				img{name: "sbom", pushed: t0, subject: "b"}),
			now:           days(40),
			wantDelete:    []string{"sig", "a"},
			wantCriterion: map[string]string{"sig": CriterionSubject},
		},
		{
			name:   "a referrer whose subject is absent is judged on its own",
			policy: notPulled30,
			images: images(img{name: "orphan", pushed: days(5), subject: "gone"}, img{name: "x", pushed: days(20)}),
			now:    days(40),
			// orphan: 35 days unpulled; x: 20.
			wantDelete:    []string{"orphan"},
			wantCriterion: map[string]string{"orphan": CriterionNotPulled},
		},
		{
			name:   "an image seen tagged, then untagged, counts from when it was seen untagged",
			policy: untagged7,
			images: images(img{name: "a", pushed: t0, marks: store.ImageMarks{Tagged: false, UntaggedSince: days(20)}},
				img{name: "b", pushed: t0, marks: store.ImageMarks{UntaggedSince: days(22)}}),
			now:        days(28),
			wantDelete: []string{"a"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			plan := Evaluate(Input{Policy: tc.policy, Images: tc.images, Pins: tc.pins, Now: tc.now, Config: cfg()})
			got := names(plan.Delete, tc.images)
			if len(got) > 0 && len(tc.wantDelete) > 0 && got[0] != tc.wantDelete[0] {
				t.Errorf("Delete starts with %q, want %q first", got[0], tc.wantDelete[0])
			}
			slices.Sort(got)
			want := slices.Sorted(slices.Values(tc.wantDelete))
			if !slices.Equal(got, want) {
				t.Errorf("Delete = %q, want %q", got, want)
			}
			keep := names(plan.Keep, tc.images)
			slices.Sort(keep)
			if !slices.Equal(keep, tc.wantKeep) {
				t.Errorf("Keep = %q, want %q", keep, tc.wantKeep)
			}
			for _, v := range append(plan.Delete, plan.Keep...) {
				n := names([]Verdict{v}, tc.images)[0]
				if want, ok := tc.wantCriterion[n]; ok && v.Criterion != want {
					t.Errorf("%s: criterion %q, want %q", n, v.Criterion, want)
				}
				if want, ok := tc.wantWhy[n]; ok && !strings.Contains(v.Reason, want) {
					t.Errorf("%s: reason %q does not say %q", n, v.Reason, want)
				}
				if v.Reason == "" || v.Criterion == "" {
					t.Errorf("%s: verdict without criterion or reason: %+v", n, v)
				}
			}
			if len(plan.Report) != 0 || plan.Stopped {
				t.Errorf("unexpected report %v / stop", plan.Report)
			}
		})
	}
}

func TestEvaluateHoldsBack(t *testing.T) {
	imgs := images(img{name: "a", pushed: t0}, img{name: "b", pushed: t0}, img{name: "c", pushed: t0, tags: []string{"v"}})
	p := store.RetentionPolicy{Name: "p", UntaggedDays: 7, Changed: days(29)}
	c := cfg()
	c.Cooling = 6 * time.Hour

	cooling := Evaluate(Input{Policy: p, Images: imgs, Now: days(29).Add(5 * time.Hour), Config: c})
	if len(cooling.Delete) != 0 || len(cooling.Report) != 2 || !strings.Contains(cooling.Note, "cooling period") {
		t.Errorf("during the cooling period: delete %d, report %d, note %q; want 0, 2, a cooling note", len(cooling.Delete), len(cooling.Report), cooling.Note)
	}
	for _, v := range cooling.Report {
		if v.Action != store.ActionReport {
			t.Errorf("reported verdict has action %q", v.Action)
		}
	}
	after := Evaluate(Input{Policy: p, Images: imgs, Now: days(29).Add(6 * time.Hour), Config: c})
	if len(after.Delete) != 2 {
		t.Errorf("after the cooling period: delete %d, want 2", len(after.Delete))
	}

	c.MaxDeleteShare = 0.5 // 2 of 3 is over half
	stopped := Evaluate(Input{Policy: p, Images: imgs, Now: days(30), Config: c})
	if !stopped.Stopped || len(stopped.Delete) != 0 || len(stopped.Report) != 2 || !strings.Contains(stopped.Note, "confirm") {
		t.Errorf("over the breaker: stopped %v, delete %d, report %d, note %q", stopped.Stopped, len(stopped.Delete), len(stopped.Report), stopped.Note)
	}
	confirmed := Evaluate(Input{Policy: p, Images: imgs, Now: days(30), Config: c, Confirm: true})
	if confirmed.Stopped || len(confirmed.Delete) != 2 {
		t.Errorf("confirmed: stopped %v, delete %d; want a run through", confirmed.Stopped, len(confirmed.Delete))
	}
	p.MaxDeleteCount = 1 // the policy's own limit applies too
	p.MaxDeleteShare = 1
	if !Evaluate(Input{Policy: p, Images: imgs, Now: days(30), Config: c}).Stopped {
		t.Errorf("a policy's count limit of 1 did not stop a run deleting 2")
	}
}

func TestEvaluateDryRunDecidesTheSame(t *testing.T) {
	imgs := images(img{name: "idx", pushed: t0, children: []string{"c1", "c2"}}, img{name: "c1", pushed: t0},
		img{name: "c2", pushed: t0}, img{name: "sig", pushed: t0, subject: "idx"}, img{name: "a", pushed: t0, tags: []string{"v"}})
	p := store.RetentionPolicy{Name: "p", UntaggedDays: 7, NotPulledDays: 20}
	real := Evaluate(Input{Policy: p, Images: imgs, Now: days(15), Config: cfg()})
	dry := Evaluate(Input{Policy: p, Images: imgs, Now: days(15), Config: cfg(), DryRun: true})
	if !slices.Equal(names(real.Delete, imgs), names(dry.Delete, imgs)) || len(real.Delete) != 4 {
		t.Fatalf("real deletes %q, dry run %q", names(real.Delete, imgs), names(dry.Delete, imgs))
	}
	// The dry run leaves them in place, so they get notices; the real
	// run deletes them, so it marks nothing of theirs.
	if len(dry.Marks) < 4 || len(real.Marks) > 1 {
		t.Errorf("marks: dry %d, real %d", len(dry.Marks), len(real.Marks))
	}
}

func TestEvaluateMarksAndNotices(t *testing.T) {
	p := store.RetentionPolicy{Name: "weekly", UntaggedDays: 7, NotPulledDays: 30}
	imgs := images(
		img{name: "a", pushed: t0, tags: []string{"v1"}},                                             // first seen tagged
		img{name: "b", pushed: t0, marks: store.ImageMarks{Tagged: true}},                            // lost its tag
		img{name: "c", pushed: days(3)},                                                              // untagged 6.5 days at now: due in 12h
		img{name: "d", pushed: days(9), tags: []string{"v2"}, marks: store.ImageMarks{Tagged: true}}, // unchanged
		img{name: "sig", pushed: days(3), subject: "c"},
	)
	now := days(9).Add(12 * time.Hour)
	plan := Evaluate(Input{Policy: p, Images: imgs, Now: now, Config: cfg()})
	got := map[string]store.ImageMarks{}
	for _, m := range plan.Marks {
		got[names([]Verdict{{Digest: m.Digest}}, imgs)[0]] = m.ImageMarks
	}
	if m, ok := got["a"]; !ok || !m.Tagged {
		t.Errorf("a tagged image is not marked seen tagged: %+v", got["a"])
	}
	if m, ok := got["b"]; !ok || m.Tagged || !m.UntaggedSince.Equal(now) {
		t.Errorf("an image that lost its tag: marks %+v, want untagged since now", got["b"])
	}
	if _, ok := got["d"]; ok {
		t.Errorf("an unchanged image was re-marked")
	}
	n := got["c"].Notice
	if n == nil || !n.At.Equal(days(10)) || n.Policy != "weekly" || !strings.Contains(n.Reason, "untagged") {
		t.Fatalf("notice for an image due in 12h = %+v", n)
	}
	if s := got["sig"].Notice; s == nil || !strings.Contains(s.Reason, "refers to") {
		t.Errorf("a referrer of a doomed subject has notice %+v", s)
	}
	if got["a"].Notice != nil {
		t.Errorf("a tagged, recently pushed image has a notice")
	}
	w := registry.Warning(*n)
	if !strings.HasPrefix(w, `299 - "retention policy 'weekly' will delete this image at or after 2026-03-11T12:00:00Z`) || strings.Count(w, `"`) != 2 {
		t.Errorf("Warning = %s", w)
	}
}
