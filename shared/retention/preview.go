package retention

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
)

// Impact is what a policy change would do, from a dry evaluation of
// every repository the policy governs, with the policy as stored and as
// it would be saved, both as if their cooling periods had ended: what
// the next run after the cooling period deletes if nothing else
// changes. Nothing is recorded.
type Impact struct {
	AsOf         time.Time `json:"asOf"`
	Repositories int       `json:"repositories"`
	Images       int       `json:"images"`
	// Before and After count the images a run would delete under the
	// stored policy and under the changed one.
	Before int `json:"before"`
	After  int `json:"after"`
	// More counts the images After deletes that Before keeps.
	More int `json:"more"`
	// HeldBack counts the images the changed policy selects that its
	// circuit breaker would hold back until a run is confirmed.
	HeldBack int `json:"heldBack,omitempty"`
	// Unexempted counts the images that carry a tag the stored policy
	// exempts and the changed one no longer does: kept now, deleted
	// once a criterion holds for them, whether or not one does yet.
	Unexempted int `json:"unexempted,omitempty"`
	// Examples are some of the images counted in More (at most 10),
	// with why they would go.
	Examples []Example `json:"examples,omitempty"`
}

// Example is one image a change would expose to deletion.
type Example struct {
	Repository string        `json:"repository"`
	Digest     digest.Digest `json:"digest"`
	Tags       []string      `json:"tags,omitempty"`
	Reason     string        `json:"reason"`
}

// maxExamples bounds Impact.Examples.
const maxExamples = 10

// Preview evaluates the change of a tenancy's policy from cur to next
// over the repositories the policy governs. It reads every image of
// those repositories once and writes nothing.
func (s *Service) Preview(ctx context.Context, tenancy string, cur, next store.RetentionPolicy) (Impact, error) {
	repos, err := s.governed(ctx, tenancy, cur.Name)
	if err != nil {
		return Impact{AsOf: s.Now()}, err
	}
	moves := make([]move, len(repos))
	for i, r := range repos {
		moves[i] = move{repo: r, before: cur, after: next}
	}
	return s.preview(ctx, moves)
}

// PreviewAssigned is Preview for an override policy whose repositories
// change too (repos: the ones it is to govern): a repository joining it
// is judged under the policy that governs it now, then under next; one
// leaving it under cur, then under the tenancy's global policy.
func (s *Service) PreviewAssigned(ctx context.Context, tenancy string, cur, next store.RetentionPolicy, repos []string) (Impact, error) {
	now, err := s.governed(ctx, tenancy, cur.Name)
	if err != nil {
		return Impact{AsOf: s.Now()}, err
	}
	global, err := s.st.Ret.GetRetentionPolicy(ctx, tenancy, store.GlobalPolicy)
	if errors.Is(err, store.ErrNotFound) {
		global = store.RetentionPolicy{Tenancy: tenancy, Name: store.GlobalPolicy}
	} else if err != nil {
		return Impact{AsOf: s.Now()}, err
	}
	var moves []move
	for _, r := range now {
		if !slices.Contains(repos, r) {
			moves = append(moves, move{repo: r, before: cur, after: global})
		}
	}
	for _, r := range repos {
		before := cur
		if !slices.Contains(now, r) {
			if before, err = s.PolicyFor(ctx, tenancy, r); err != nil {
				return Impact{AsOf: s.Now()}, err
			}
		}
		moves = append(moves, move{repo: r, before: before, after: next})
	}
	return s.preview(ctx, moves)
}

// move is one repository's policy before and after a change.
type move struct {
	repo          string
	before, after store.RetentionPolicy
}

func (s *Service) preview(ctx context.Context, moves []move) (Impact, error) {
	im := Impact{AsOf: s.Now()}
	cfg := s.cfg
	cfg.Cooling = 0 // as the next run after the cooling period sees it
	for _, mv := range moves {
		repo := mv.repo
		data, err := s.load(ctx, repo)
		if err != nil {
			return im, err
		}
		pins, err := s.st.Ret.ListPins(ctx, repo)
		if err != nil {
			return im, err
		}
		eval := func(p store.RetentionPolicy) Plan {
			return Evaluate(Input{Policy: p, Images: data.images, Pins: pins, Now: im.AsOf, Config: cfg, DryRun: true})
		}
		before, after := eval(mv.before), eval(mv.after)
		for _, img := range data.images {
			_, _, was := Exempt(mv.before.ExemptTags, img.Tags)
			_, _, is := Exempt(mv.after.ExemptTags, img.Tags)
			if was && !is {
				im.Unexempted++
			}
		}
		im.Repositories++
		im.Images += len(data.images)
		im.Before += len(before.Delete)
		im.After += len(after.Delete)
		if after.Stopped {
			im.HeldBack += len(after.Report)
		}
		for _, v := range append(after.Delete, after.Report...) {
			if slices.ContainsFunc(before.Delete, func(b Verdict) bool { return b.Digest == v.Digest }) {
				continue
			}
			if v.Action == store.ActionDelete {
				im.More++
			}
			if len(im.Examples) < maxExamples {
				im.Examples = append(im.Examples, Example{Repository: repo, Digest: v.Digest, Tags: v.Tags, Reason: v.Criterion + ": " + v.Reason})
			}
		}
	}
	return im, nil
}

// governed lists the repositories of a tenancy that a policy governs:
// its assigned ones for an override; for the global policy every other
// (a repository assigned to a missing override falls back to it).
func (s *Service) governed(ctx context.Context, tenancy, policy string) ([]string, error) {
	as, err := s.st.Ret.ListAssignments(ctx, tenancy)
	if err != nil {
		return nil, err
	}
	if policy != store.GlobalPolicy {
		var out []string
		for _, a := range as {
			if a.Policy == policy {
				out = append(out, a.Repo)
			}
		}
		return out, nil
	}
	overridden := map[string]bool{}
	exists := map[string]bool{}
	for _, a := range as {
		if _, ok := exists[a.Policy]; !ok {
			_, err := s.st.Ret.GetRetentionPolicy(ctx, tenancy, a.Policy)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
			exists[a.Policy] = err == nil
		}
		overridden[a.Repo] = exists[a.Policy]
	}
	all, err := s.repositories(ctx, tenancy)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, r := range all {
		if !overridden[r] {
			out = append(out, r)
		}
	}
	return out, nil
}
