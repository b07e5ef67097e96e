package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
)

// racers is how many goroutines race for one conditional write.
const racers = 20

// race runs f(i) for i in [0, racers) at once (released together) and
// returns their errors by i.
func race(f func(i int) error) []error {
	errs := make([]error, racers)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range racers {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWinner fails unless exactly one error is nil and every other
// errors.Is lose; it returns the winner's index.
func oneWinner(t *testing.T, errs []error, lose error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("racers %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, lose):
			t.Fatalf("racer %d: got error %v, want nil or errors.Is(%v)", i, err, lose)
		}
	}
	if winner < 0 {
		t.Fatalf("no racer succeeded: %v", errs)
	}
	return winner
}

var metaConcurrencyTests = []metaTest{
	{"concurrent UpdateUpload from one version → exactly one succeeds", func(t *testing.T, m store.Metadata) {
		u := newUpload(t)
		must(t, "CreateUpload", m.CreateUpload(ctx(t), u))
		errs := race(func(i int) error {
			next := u
			next.Version, next.Offset = 2, int64(1000+i)
			return m.UpdateUpload(ctx(t), next)
		})
		w := oneWinner(t, errs, store.ErrConflict)
		got, err := m.GetUpload(ctx(t), u.ID)
		must(t, "GetUpload", err)
		if got.Version != 2 || got.Offset != int64(1000+w) {
			t.Fatalf("stored version %d offset %d, want the winner's: version 2 offset %d", got.Version, got.Offset, 1000+w)
		}
	}},
	{"concurrent CreateTag of one tag → exactly one succeeds, the rest ErrExists", func(t *testing.T, m store.Metadata) {
		repo := unique(t, "repo")
		errs := race(func(i int) error {
			return m.CreateTag(ctx(t), store.Tag{Repo: repo, Name: "v1", Digest: digestOf(i), Updated: time.Now().UTC()})
		})
		w := oneWinner(t, errs, store.ErrExists)
		got, err := m.GetTag(ctx(t), repo, "v1")
		must(t, "GetTag", err)
		if got.Digest != digestOf(w) {
			t.Fatalf("the tag names %s, want the winner's %s", got.Digest, digestOf(w))
		}
	}},
	{"concurrent PutBlob of one digest → exactly one succeeds, the rest ErrExists", func(t *testing.T, m store.Metadata) {
		first := newBlob(t, "")
		keys := make([]string, racers)
		for i := range keys {
			keys[i] = unique(t, "blobs/racer")
		}
		errs := race(func(i int) error {
			b := first
			b.Key = keys[i]
			return m.PutBlob(ctx(t), b)
		})
		w := oneWinner(t, errs, store.ErrExists)
		got, err := m.GetBlob(ctx(t), first.Digest)
		must(t, "GetBlob", err)
		if got.Key != keys[w] {
			t.Fatalf("stored key %q, want the winner's %q", got.Key, keys[w])
		}
	}},
}

// digestOf is a digest that racer i's write names.
func digestOf(i int) digest.Digest { return digest.FromString(fmt.Sprint("racer ", i)) }
