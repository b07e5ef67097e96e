package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/store"
)

// EventStore is a store whose writes can carry events (store.WithEvent).
type EventStore interface {
	store.Metadata
	store.Identity
	store.Retention
	store.LoginRefusals
}

// Events runs the contract suite for events that ride writes: every
// method that carries one commits it exactly when its write commits
// (once, with the record it replaced), and a write that fails or
// changes nothing commits none. committed returns what was committed
// since its last call, in order (the outbox, or the change stream).
func Events(t *testing.T, s EventStore, committed func(t *testing.T) []store.Committed) {
	for _, tc := range eventTests {
		t.Run(tc.name, func(t *testing.T) {
			committed(t) // what earlier subtests left
			tc.run(t, s, &recorder{t: t, take: committed})
		})
	}
}

type eventTest struct {
	name string
	run  func(t *testing.T, s EventStore, r *recorder)
}

// recorder checks what a call committed.
type recorder struct {
	t    *testing.T
	take func(t *testing.T) []store.Committed
	n    int
}

// ev returns a store.WithEvent context with a payload unique to this
// call.
func (r *recorder) ev() (context.Context, string) {
	r.n++
	payload := fmt.Sprintf(`[{"id":%q}]`, fmt.Sprintf("%s-%d", r.t.Name(), r.n))
	return store.WithEvent(ctx(r.t), store.PendingEvent(payload)), payload
}

// want checks that exactly the payloads given were committed, in order,
// each with its previous record (nil: none; else decoded into prev's
// type and checked by it).
func (r *recorder) want(what string, payloads []string, prevs ...func(json.RawMessage) error) {
	r.t.Helper()
	got := r.take(r.t)
	if len(got) != len(payloads) {
		r.t.Fatalf("%s committed %d events, want %d: %+v", what, len(got), len(payloads), got)
	}
	for i, c := range got {
		if string(c.Events) != payloads[i] {
			r.t.Fatalf("%s committed %s, want %s", what, c.Events, payloads[i])
		}
		if i < len(prevs) && prevs[i] != nil {
			if err := prevs[i](c.Previous); err != nil {
				r.t.Fatalf("%s: previous record %s: %v", what, c.Previous, err)
			}
		} else if i < len(prevs) && c.Previous != nil {
			r.t.Fatalf("%s: previous record %s, want none", what, c.Previous)
		}
	}
}

// none checks that nothing was committed.
func (r *recorder) none(what string) { r.t.Helper(); r.want(what, nil) }

// prevTag checks a previous tag record's digest.
func prevTag(d string) func(json.RawMessage) error {
	return func(raw json.RawMessage) error {
		var t store.Tag
		if err := json.Unmarshal(raw, &t); err != nil {
			return err
		}
		if t.Digest.String() != d {
			return fmt.Errorf("digest %s, want %s", t.Digest, d)
		}
		return nil
	}
}

// present checks that there was a previous record.
func present(raw json.RawMessage) error {
	if raw == nil {
		return errors.New("none")
	}
	return nil
}

var eventTests = []eventTest{
	{"PutTag, CreateTag and DeleteTag carry events with the tag they replaced", func(t *testing.T, s EventStore, r *recorder) {
		repo := unique(t, "r")
		a, b := randomDigest(t), randomDigest(t)
		c, p1 := r.ev()
		must(t, "PutTag", s.PutTag(c, store.Tag{Repo: repo, Name: "v1", Digest: a}))
		r.want("PutTag (new)", []string{p1}, nil)
		c, p2 := r.ev()
		must(t, "PutTag (move)", s.PutTag(c, store.Tag{Repo: repo, Name: "v1", Digest: b}))
		r.want("PutTag (move)", []string{p2}, prevTag(a.String()))
		must(t, "PutTag without an event", s.PutTag(ctx(t), store.Tag{Repo: repo, Name: "v2", Digest: b}))
		r.none("PutTag without an event")
		c, p3 := r.ev()
		must(t, "DeleteTag", s.DeleteTag(c, repo, "v1"))
		r.want("DeleteTag", []string{p3}, prevTag(b.String()))
		c, _ = r.ev()
		wantErr(t, "DeleteTag again", s.DeleteTag(c, repo, "v1"), store.ErrNotFound)
		r.none("a DeleteTag that found nothing")
		c, p4 := r.ev()
		must(t, "CreateTag", s.CreateTag(c, store.Tag{Repo: repo, Name: "v3", Digest: a}))
		r.want("CreateTag", []string{p4}, nil)
		c, _ = r.ev()
		wantErr(t, "CreateTag again", s.CreateTag(c, store.Tag{Repo: repo, Name: "v3", Digest: b}), store.ErrExists)
		r.none("a CreateTag that found the tag")
	}},
	{"PutManifest and DeleteManifest carry events, a large manifest too", func(t *testing.T, s EventStore, r *recorder) {
		repo := unique(t, "r")
		for _, m := range []store.Manifest{newManifest(t, repo, ""), largeManifest(t, repo, randomDigest(t))} {
			c, p1 := r.ev()
			must(t, "PutManifest", s.PutManifest(c, m))
			r.want("PutManifest", []string{p1})
			c, p2 := r.ev()
			must(t, "DeleteManifest", s.DeleteManifest(c, repo, m.Digest))
			r.want("DeleteManifest", []string{p2})
			c, _ = r.ev()
			wantErr(t, "DeleteManifest again", s.DeleteManifest(c, repo, m.Digest), store.ErrNotFound)
			r.none("a DeleteManifest that found nothing")
		}
	}},
	{"EnsureRepository carries an event only when it creates; Put and Delete carry theirs", func(t *testing.T, s EventStore, r *recorder) {
		name := unique(t, "t") + "/app"
		c, p1 := r.ev()
		must(t, "EnsureRepository", s.EnsureRepository(c, name))
		r.want("EnsureRepository (new)", []string{p1}, nil)
		c, _ = r.ev()
		must(t, "EnsureRepository again", s.EnsureRepository(c, name))
		r.none("EnsureRepository of an existing repository")
		c, p2 := r.ev()
		must(t, "PutRepository", s.PutRepository(c, store.Repository{Name: name, Public: true}))
		r.want("PutRepository", []string{p2}, present)
		c, p3 := r.ev()
		must(t, "DeleteRepository", s.DeleteRepository(c, name))
		r.want("DeleteRepository", []string{p3}, present)
	}},
	{"PutPolicy and DeletePolicy carry events", func(t *testing.T, s EventStore, r *recorder) {
		ten := unique(t, "t")
		c, p1 := r.ev()
		must(t, "PutPolicy", s.PutPolicy(c, store.Policy{Tenancy: ten, Name: "p", Statements: []string{"x"}}))
		r.want("PutPolicy", []string{p1}, nil)
		c, p2 := r.ev()
		must(t, "DeletePolicy", s.DeletePolicy(c, ten, "p"))
		r.want("DeletePolicy", []string{p2}, present)
	}},
	{"retention policies and assignments carry events; a lost condition none", func(t *testing.T, s EventStore, r *recorder) {
		ten := unique(t, "t")
		p := store.RetentionPolicy{Tenancy: ten, Name: "weekly", UntaggedDays: 7, Version: 1}
		c, p1 := r.ev()
		must(t, "PutRetentionPolicy", s.PutRetentionPolicy(c, p))
		r.want("PutRetentionPolicy (create)", []string{p1}, nil)
		c, _ = r.ev()
		wantErr(t, "PutRetentionPolicy again", s.PutRetentionPolicy(c, p), store.ErrExists)
		r.none("a PutRetentionPolicy that lost its condition")
		p.Version = 2
		c, p2 := r.ev()
		must(t, "PutRetentionPolicy v2", s.PutRetentionPolicy(c, p))
		r.want("PutRetentionPolicy (update)", []string{p2}, present)
		a := store.Assignment{Tenancy: ten, Repo: ten + "/app", Policy: "weekly"}
		c, p3 := r.ev()
		must(t, "Assign", s.Assign(c, a))
		r.want("Assign", []string{p3}, nil)
		c, _ = r.ev()
		must(t, "Assign again", s.Assign(c, a))
		r.none("Assign to the same policy again")
		c, p4 := r.ev()
		must(t, "Unassign", s.Unassign(c, ten, a.Repo))
		r.want("Unassign", []string{p4}, present)
		c, p5 := r.ev()
		must(t, "DeleteRetentionPolicy", s.DeleteRetentionPolicy(c, ten, "weekly"))
		r.want("DeleteRetentionPolicy", []string{p5}, present)
	}},
	{"a run counts each repository once and finishes once, with its event", func(t *testing.T, s EventStore, r *recorder) {
		ten := unique(t, "t")
		run := store.RetentionRun{Tenancy: ten, ID: "20260101T000000.000Z-abcdef", Started: ms(), Repositories: 2, Trigger: "test"}
		must(t, "CreateRun", s.CreateRun(ctx(t), run))
		_, _, err := s.CountRunRepo(ctx(t), ten, run.ID, ten+"/a")
		wantErr(t, "CountRunRepo before its outcome", err, store.ErrNotFound)
		for _, repo := range []string{"a", "a", "b"} {
			must(t, "PutRunRepo", s.PutRunRepo(ctx(t), store.RunRepo{Tenancy: ten, RunID: run.ID, Repo: ten + "/" + repo}))
		}
		got, first, err := s.CountRunRepo(ctx(t), ten, run.ID, ten+"/a")
		must(t, "CountRunRepo a", err)
		if !first || got.Done != 1 {
			t.Fatalf("first count of a: first %v, done %d; want true, 1", first, got.Done)
		}
		must(t, "PutRunRepo a again", s.PutRunRepo(ctx(t), store.RunRepo{Tenancy: ten, RunID: run.ID, Repo: ten + "/a", Deleted: 1}))
		if got, first, err = s.CountRunRepo(ctx(t), ten, run.ID, ten+"/a"); err != nil || first || got.Done != 1 {
			t.Fatalf("second count of a (a job run again): first %v, done %d, %v; want false, 1", first, got.Done, err)
		}
		if got, first, err = s.CountRunRepo(ctx(t), ten, run.ID, ten+"/b"); err != nil || !first || got.Done != 2 {
			t.Fatalf("count of b: first %v, done %d, %v; want true, 2", first, got.Done, err)
		}
		r.none("counting")
		run.Finished, run.Summary = ms(), &store.RunSummary{Deleted: 1, BreakerTrips: 1}
		c, p1 := r.ev()
		must(t, "FinishRun", s.FinishRun(c, run))
		r.want("FinishRun", []string{p1}, present)
		c, _ = r.ev()
		wantErr(t, "FinishRun again", s.FinishRun(c, run), store.ErrConflict)
		r.none("a second FinishRun")
		stored, err := s.GetRun(ctx(t), ten, run.ID)
		must(t, "GetRun", err)
		if !stored.Finished.Equal(run.Finished) || stored.Summary == nil || stored.Summary.BreakerTrips != 1 || stored.Done != 2 {
			t.Fatalf("finished run %+v (summary %+v), want finished at %s with 1 breaker trip and 2 done", stored, stored.Summary, run.Finished)
		}
	}},
	{"refused logins are counted by window and alerted once, with the event", func(t *testing.T, s EventStore, r *recorder) {
		ten := unique(t, "t")
		start := time.Now().UTC().Truncate(time.Minute)
		for i := 1; i <= 3; i++ {
			n, err := s.CountRefusal(ctx(t), ten, start, start.Add(time.Hour))
			must(t, "CountRefusal", err)
			if n != i {
				t.Fatalf("count %d, want %d", n, i)
			}
		}
		if n, err := s.CountRefusal(ctx(t), ten, start.Add(time.Minute), start.Add(time.Hour)); err != nil || n != 1 {
			t.Fatalf("the next window's count %d, %v; want 1", n, err)
		}
		r.none("counting")
		c, p1 := r.ev()
		must(t, "MarkRefusalAlert", s.MarkRefusalAlert(c, ten, start))
		r.want("MarkRefusalAlert", []string{p1})
		c, _ = r.ev()
		wantErr(t, "MarkRefusalAlert again", s.MarkRefusalAlert(c, ten, start), store.ErrExists)
		if _, err := s.CountRefusal(ctx(t), ten, start, start.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		r.none("a second alert and counting after it")
	}},
}
