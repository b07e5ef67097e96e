package retention

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
)

// Image is one manifest of a repository with what retention knows of it.
type Image struct {
	Manifest store.Manifest
	// Tags are the tags that point at the manifest.
	Tags  []string
	Stats store.ImageStats
}

// Input is everything the evaluation of one repository needs; Evaluate
// reads nothing else, so a dry run and a real run over the same input
// decide the same.
type Input struct {
	Policy store.RetentionPolicy
	Images []Image
	Pins   []store.Pin
	Now    time.Time
	Config Config
	// Confirm lets a run through the circuit breaker.
	Confirm bool
	// DryRun leaves the images a real run would delete in place, so
	// they get notices (and marks) like any image that stays.
	DryRun bool
}

// Verdict is what the plan does with one image, and why.
type Verdict struct {
	Digest    digest.Digest
	MediaType string
	Tags      []string
	Action    string
	Criterion string
	Reason    string
}

// Plan is the outcome of evaluating one repository.
type Plan struct {
	// Delete are the images to delete (in a dry run: that a real run
	// would delete), referrers and index parents before what they refer
	// to.
	Delete []Verdict
	// Report are images a criterion selects that the run holds back
	// (cooling period, circuit breaker).
	Report []Verdict
	// Keep are images a criterion selects that something keeps.
	Keep []Verdict
	// Stopped says the circuit breaker held the deletions back.
	Stopped bool
	// Note explains a cooling period or a stop.
	Note string
	// Marks are the image marks that changed.
	Marks []store.ImageMark
}

// graph is a repository's manifests and the edges between them.
type graph struct {
	order    []digest.Digest // digest order, for deterministic output
	images   map[digest.Digest]*Image
	children map[digest.Digest][]digest.Digest
	parents  map[digest.Digest][]digest.Digest
	refs     map[digest.Digest][]digest.Digest // referrers by subject
	attached map[digest.Digest]bool            // referrers whose subject is here
	tagged   map[digest.Digest]bool            // tagged directly or via an index
}

func newGraph(images []Image) *graph {
	g := &graph{images: map[digest.Digest]*Image{}, children: map[digest.Digest][]digest.Digest{},
		parents: map[digest.Digest][]digest.Digest{}, refs: map[digest.Digest][]digest.Digest{},
		attached: map[digest.Digest]bool{}, tagged: map[digest.Digest]bool{}}
	for i := range images {
		d := images[i].Manifest.Digest
		g.images[d] = &images[i]
		g.order = append(g.order, d)
	}
	slices.Sort(g.order)
	for _, d := range g.order {
		m := g.images[d].Manifest
		for _, r := range m.Refs {
			if _, ok := g.images[r]; ok && r != d {
				g.children[d] = append(g.children[d], r)
				g.parents[r] = append(g.parents[r], d)
			}
		}
		if _, ok := g.images[m.Subject]; ok && m.Subject != d {
			g.refs[m.Subject] = append(g.refs[m.Subject], d)
			g.attached[d] = true
		}
	}
	var queue []digest.Digest
	for _, d := range g.order {
		if len(g.images[d].Tags) > 0 {
			g.tagged[d] = true
			queue = append(queue, d)
		}
	}
	g.walk(queue, g.tagged, func(d digest.Digest) []digest.Digest { return g.children[d] }, nil)
	return g
}

// walk marks everything reachable from queue through next in seen,
// calling reached for each newly marked digest and its source.
func (g *graph) walk(queue []digest.Digest, seen map[digest.Digest]bool, next func(digest.Digest) []digest.Digest, reached func(d, from digest.Digest)) {
	for len(queue) > 0 {
		d := queue[0]
		queue = queue[1:]
		for _, n := range next(d) {
			if !seen[n] {
				seen[n] = true
				if reached != nil {
					reached(n, d)
				}
				queue = append(queue, n)
			}
		}
	}
}

// marks returns an image's marks as of this evaluation.
func (g *graph) marks(d digest.Digest, now time.Time) store.ImageMarks {
	prev := g.images[d].Stats.ImageMarks
	mk := store.ImageMarks{Tagged: g.tagged[d], Restored: prev.Restored}
	if !mk.Tagged {
		mk.UntaggedSince = prev.UntaggedSince
		if mk.UntaggedSince.IsZero() && prev.Tagged {
			mk.UntaggedSince = now
		}
	}
	return mk
}

func (g *graph) candidate(d digest.Digest, mk store.ImageMarks) Candidate {
	img := g.images[d]
	return Candidate{Digest: d, Tags: img.Tags, Tagged: mk.Tagged, Pushed: latest(img.Manifest.LastPushed(), mk.Restored),
		LastPulled: img.Stats.LastPulled, UntaggedSince: mk.UntaggedSince}
}

// hit is a criterion that holds for an image.
type hit struct{ criterion, reason string }

// outcome is one evaluation of the graph at one time.
type outcome struct {
	hits map[digest.Digest][]hit
	kept map[digest.Digest]bool
	// why a selected image is kept anyway.
	why map[digest.Digest]string
}

// decide applies rules to the candidates (every image but the referrers
// whose subject is here), keeps what no criterion selects, what a pin or
// an exempt tag keeps, and everything those keep: an index's children
// and a manifest's referrers.
func (g *graph) decide(cands map[digest.Digest]Candidate, rules []Rule, pins map[digest.Digest]store.Pin, exempt []string, at time.Time) outcome {
	o := outcome{hits: map[digest.Digest][]hit{}, kept: map[digest.Digest]bool{}, why: map[digest.Digest]string{}}
	list := make([]Candidate, 0, len(cands))
	for _, d := range g.order {
		if c, ok := cands[d]; ok {
			list = append(list, c)
		}
	}
	for _, r := range rules {
		for _, c := range r.Perform(list) {
			o.hits[c.Digest] = append(o.hits[c.Digest], hit{r.Criterion(), r.Reason(c)})
		}
	}
	var queue []digest.Digest
	for _, c := range list {
		d := c.Digest
		switch p, pinned := pins[d]; {
		case len(o.hits[d]) == 0:
		case pinned && p.Active(at):
			o.why[d] = "pinned"
			if !p.Expires.IsZero() {
				o.why[d] += " until " + p.Expires.UTC().Format(time.RFC3339)
			}
		default:
			tag, pattern, ok := Exempt(exempt, c.Tags)
			if !ok {
				continue
			}
			o.why[d] = fmt.Sprintf("carries tag %q, exempt by pattern %q", tag, pattern)
		}
		o.kept[d] = true
		queue = append(queue, d)
	}
	next := func(d digest.Digest) []digest.Digest { return append(slices.Clone(g.children[d]), g.refs[d]...) }
	g.walk(queue, o.kept, next, func(d, from digest.Digest) {
		if len(o.hits[d]) > 0 {
			o.why[d] = "kept with " + short(from) + ", which is kept"
		}
	})
	return o
}

// Evaluate decides what to do with a repository's images.
func Evaluate(in Input) Plan {
	g := newGraph(in.Images)
	p := in.Policy
	pins := map[digest.Digest]store.Pin{}
	for _, pin := range in.Pins {
		pins[pin.Digest] = pin
	}
	marks := map[digest.Digest]store.ImageMarks{}
	cands := map[digest.Digest]Candidate{}
	for _, d := range g.order {
		marks[d] = g.marks(d, in.Now)
		if !g.attached[d] {
			cands[d] = g.candidate(d, marks[d])
		}
	}
	now := g.decide(cands, Rules(p.NotPulledDays, p.UntaggedDays, in.Now), pins, p.ExemptTags, in.Now)

	var plan Plan
	for _, d := range g.deletionOrder(now.kept) {
		plan.Delete = append(plan.Delete, g.verdict(d, store.ActionDelete, now))
	}
	for _, d := range g.order {
		if now.kept[d] && len(now.hits[d]) > 0 {
			v := g.verdict(d, store.ActionKeep, now)
			v.Reason = now.why[d] + "; otherwise " + v.Reason
			plan.Keep = append(plan.Keep, v)
		}
	}
	coolingEnd := p.Changed.Add(in.Config.Cooling)
	switch {
	case len(plan.Delete) == 0:
	case in.Now.Before(coolingEnd):
		plan.Note = fmt.Sprintf("policy %q changed %s: during its cooling period, until %s, runs only report", p.Name,
			p.Changed.UTC().Format(time.RFC3339), coolingEnd.UTC().Format(time.RFC3339))
		plan.holdBack()
	case tripped(in.Config, p, len(plan.Delete), len(in.Images)) && !in.Confirm:
		plan.Stopped = true
		plan.Note = fmt.Sprintf("circuit breaker: the run would delete %d of %d images, over the limit (%s); confirm the run to delete them",
			len(plan.Delete), len(in.Images), limits(in.Config, p))
		plan.holdBack()
	}
	notices := g.notices(in, cands, pins, coolingEnd)
	deleted := map[digest.Digest]bool{}
	if !in.DryRun {
		for _, v := range plan.Delete {
			deleted[v.Digest] = true
		}
	}
	for _, d := range g.order {
		if deleted[d] {
			continue
		}
		mk := marks[d]
		mk.Notice = notices[d]
		if prev := g.images[d].Stats.ImageMarks; !sameMarks(prev, mk) {
			plan.Marks = append(plan.Marks, store.ImageMark{Digest: d, ImageMarks: mk})
		}
	}
	return plan
}

// holdBack turns the deletions into reports.
func (p *Plan) holdBack() {
	for _, v := range p.Delete {
		v.Action = store.ActionReport
		v.Reason += "; not deleted: " + p.Note
		p.Report = append(p.Report, v)
	}
	p.Delete = nil
}

// verdict describes a selected image.
func (g *graph) verdict(d digest.Digest, action string, o outcome) Verdict {
	img := g.images[d]
	v := Verdict{Digest: d, MediaType: img.Manifest.MediaType, Tags: img.Tags, Action: action}
	if hs := o.hits[d]; len(hs) > 0 {
		v.Criterion = hs[0].criterion
		var rs []string
		for _, h := range hs {
			rs = append(rs, h.reason)
		}
		v.Reason = strings.Join(rs, "; ")
		return v
	}
	subject := img.Manifest.Subject
	v.Criterion = CriterionSubject
	v.Reason = "refers to " + short(subject) + ", which is deleted"
	if hs := o.hits[subject]; len(hs) > 0 {
		v.Reason += " (" + hs[0].criterion + ")"
	}
	return v
}

// deletionOrder lists the images not kept: referrers first, then
// indexes before their children, so that a pull during the deletion
// never finds an index whose child is gone.
func (g *graph) deletionOrder(kept map[digest.Digest]bool) []digest.Digest {
	height := map[digest.Digest]int{}
	var level func(d digest.Digest, seen map[digest.Digest]bool) int
	level = func(d digest.Digest, seen map[digest.Digest]bool) int {
		if v, ok := height[d]; ok {
			return v
		}
		if seen[d] {
			return 0 // content addressing rules out cycles; do not loop anyway
		}
		seen[d] = true
		n := 0
		for _, c := range g.children[d] {
			n = max(n, level(c, seen)+1)
		}
		height[d] = n
		return n
	}
	var out []digest.Digest
	for _, d := range g.order {
		if !kept[d] {
			level(d, map[digest.Digest]bool{})
			out = append(out, d)
		}
	}
	rank := func(d digest.Digest) int {
		if g.attached[d] {
			return 1 << 20
		}
		return height[d]
	}
	slices.SortStableFunc(out, func(a, b digest.Digest) int { return rank(b) - rank(a) })
	return out
}

func sameMarks(a, b store.ImageMarks) bool {
	if a.Tagged != b.Tagged || !a.UntaggedSince.Equal(b.UntaggedSince) || !a.Restored.Equal(b.Restored) {
		return false
	}
	if a.Notice == nil || b.Notice == nil {
		return a.Notice == b.Notice
	}
	return a.Notice.At.Equal(b.Notice.At) && a.Notice.Policy == b.Notice.Policy && a.Notice.Reason == b.Notice.Reason
}

// short abbreviates a digest for messages.
func short(d digest.Digest) string {
	s := d.String()
	if i := strings.IndexByte(s, ':'); i >= 0 && len(s) > i+13 {
		return s[:i+13]
	}
	return s
}
