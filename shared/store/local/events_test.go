package local_test

import (
	"testing"

	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/storetest"
)

// TestEventsContract runs the events contract suite with the outbox on:
// what it holds is what was committed.
func TestEventsContract(t *testing.T) {
	m := openMetadata(t)
	m.EnableOutbox()
	storetest.Events(t, m, func(t *testing.T) []store.Committed {
		cs, err := m.PendingEvents(t.Context(), 1000)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range cs {
			if err := m.AckEvent(t.Context(), c.Seq); err != nil {
				t.Fatal(err)
			}
		}
		return cs
	})
}

// TestOutboxOffQueuesNothing: without a webhook the outbox stays empty.
func TestOutboxOffQueuesNothing(t *testing.T) {
	m := openMetadata(t)
	ctx := store.WithEvent(t.Context(), store.PendingEvent(`[{"id":"x"}]`))
	if err := m.PutTag(ctx, store.Tag{Repo: "dev/app", Name: "v1", Digest: "sha256:0000000000000000000000000000000000000000000000000000000000000000"}); err != nil {
		t.Fatal(err)
	}
	if cs, err := m.PendingEvents(t.Context(), 10); err != nil || len(cs) != 0 {
		t.Fatalf("outbox holds %d events (%v), want none", len(cs), err)
	}
}
