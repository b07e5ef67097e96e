package events

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/store"
)

func committed(t *testing.T, prev any, evs ...Event) store.Committed {
	t.Helper()
	raw, _ := json.Marshal(evs)
	c := store.Committed{Seq: "1", Events: raw}
	if prev != nil {
		c.Previous, _ = json.Marshal(prev)
	}
	return c
}

// Finish settles what depends on the replaced record, and drops what
// turned out not to have happened.
func TestFinishSettlesFromThePreviousRecord(t *testing.T) {
	ctx, now := context.Background(), time.Now()
	moved := New(ctx, now, TagMoved, "dev", "dev/app", TagMovedData{Tag: "v1", Digest: "sha256:b"})
	for _, c := range []struct {
		name string
		in   store.Committed
		want int
		with func(Event) bool
	}{
		{"a new tag is no move", committed(t, nil, moved), 0, nil},
		{"the same digest is no move", committed(t, store.Tag{Digest: "sha256:b"}, moved), 0, nil},
		{"a move names the previous digest", committed(t, store.Tag{Digest: "sha256:a"}, moved), 1, func(e Event) bool {
			var d TagMovedData
			return json.Unmarshal(e.Data, &d) == nil && d.PreviousDigest == "sha256:a"
		}},
		{"a deleted tag names its digest", committed(t, store.Tag{Digest: "sha256:a"}, New(ctx, now, TagDeleted, "dev", "dev/app", TagDeletedData{Tag: "v1"})), 1,
			func(e Event) bool {
				var d TagDeletedData
				return json.Unmarshal(e.Data, &d) == nil && d.Digest == "sha256:a"
			}},
		{"visibility unchanged", committed(t, store.Repository{Public: true}, New(ctx, now, RepositoryVisibilityChange, "dev", "dev/app", RepositoryData{Public: true})), 0, nil},
		{"visibility changed", committed(t, store.Repository{}, New(ctx, now, RepositoryVisibilityChange, "dev", "dev/app", RepositoryData{Public: true})), 1, nil},
		{"a create that replaced a repository", committed(t, store.Repository{}, New(ctx, now, RepositoryCreated, "dev", "dev/app", RepositoryData{})), 0, nil},
		{"a policy put over one is an update", committed(t, store.Policy{Name: "p"}, New(ctx, now, PolicyChanged, "dev", "", PolicyData{Policy: "p"})), 1,
			func(e Event) bool {
				var d PolicyData
				return json.Unmarshal(e.Data, &d) == nil && d.Change == Updated
			}},
		{"a retention policy put over none is a create", committed(t, nil, New(ctx, now, RetentionPolicyChanged, "dev", "", RetentionPolicyData{Policy: "p"})), 1,
			func(e Event) bool {
				var d RetentionPolicyData
				return json.Unmarshal(e.Data, &d) == nil && d.Change == Created
			}},
	} {
		got, err := Finish(c.in)
		if err != nil || len(got) != c.want || (c.with != nil && !c.with(got[0])) {
			t.Errorf("%s: %d events %+v, %v; want %d", c.name, len(got), got, err, c.want)
		}
	}
	if _, err := Finish(store.Committed{Seq: "x", Events: []byte("not json")}); err == nil {
		t.Error("Finish read garbage")
	}
}

// ActorOf: a run, else the set actor, else the system; New stamps the
// request id.
func TestActorAndRequestID(t *testing.T) {
	ctx := WithRequestID(WithActor(context.Background(), Actor{Type: ActorUser, Name: "dev/admin"}), "req-1")
	ev := New(ctx, time.Now(), TagDeleted, "dev", "dev/app", TagDeletedData{})
	if ev.Actor.Name != "dev/admin" || ev.RequestID != "req-1" || ev.Version != Version {
		t.Errorf("event %+v", ev)
	}
	if a := ActorOf(ByRun(ctx, "run-1")); a.Type != ActorRetention || a.RunID != "run-1" {
		t.Errorf("by run: %+v", a)
	}
	if a := ActorOf(context.Background()); a.Type != ActorSystem {
		t.Errorf("no actor: %+v", a)
	}
}
