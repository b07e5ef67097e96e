package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/store"
)

// newUpload returns a session with every field set, expiring in an hour.
func newUpload(t *testing.T) store.Upload {
	now := time.Now().UTC().Truncate(time.Millisecond)
	id := unique(t, "upload")
	return store.Upload{
		ID:          id,
		Repo:        unique(t, "repo"),
		Key:         "blobs/" + id,
		MultipartID: "mp-" + id,
		Parts:       []store.Part{{Number: 1, ETag: `"e1"`, Size: store.MinPartSize}},
		Offset:      store.MinPartSize + 3,
		TailKey:     "uploads/" + id + "/tail-1",
		TailSize:    3,
		Hashes:      map[string][]byte{"sha256": {0, 1, 2, 0xff}},
		Created:     now,
		Expires:     now.Add(time.Hour),
	}
}

// checkUpload fails unless got equals want.
func checkUpload(t *testing.T, got, want store.Upload) {
	t.Helper()
	if got.ID != want.ID || got.Repo != want.Repo || got.Key != want.Key || got.MultipartID != want.MultipartID ||
		!slices.Equal(got.Parts, want.Parts) || got.Offset != want.Offset || got.TailKey != want.TailKey ||
		got.TailSize != want.TailSize || !maps.EqualFunc(got.Hashes, want.Hashes, bytes.Equal) ||
		!got.Created.Equal(want.Created) || !got.Expires.Equal(want.Expires) || got.Version != want.Version {
		t.Fatalf("upload:\n got %+v\nwant %+v", got, want)
	}
}

var uploadTests = []metaTest{
	{"CreateUpload stores Version 1 whatever the caller set", func(t *testing.T, m store.Metadata) {
		u := newUpload(t)
		u.Version = 7
		must(t, "CreateUpload", m.CreateUpload(ctx(t), u))
		got, err := m.GetUpload(ctx(t), u.ID)
		must(t, "GetUpload", err)
		u.Version = 1
		checkUpload(t, got, u)
	}},
	{"CreateUpload of an existing id → ErrExists and keeps the first", func(t *testing.T, m store.Metadata) {
		u := newUpload(t)
		must(t, "CreateUpload", m.CreateUpload(ctx(t), u))
		dup := u
		dup.Repo, dup.Offset = unique(t, "other"), 1
		wantErr(t, "CreateUpload again", m.CreateUpload(ctx(t), dup), store.ErrExists)
		got, err := m.GetUpload(ctx(t), u.ID)
		must(t, "GetUpload", err)
		u.Version = 1
		checkUpload(t, got, u)
	}},
	{"GetUpload unknown → ErrNotFound", func(t *testing.T, m store.Metadata) {
		_, err := m.GetUpload(ctx(t), unique(t, "missing"))
		wantErr(t, "GetUpload", err, store.ErrNotFound)
	}},
	{"GetUpload of an expired session → ErrNotFound", func(t *testing.T, m store.Metadata) {
		u := newUpload(t)
		u.Expires = time.Now().Add(-time.Minute)
		must(t, "CreateUpload", m.CreateUpload(ctx(t), u))
		_, err := m.GetUpload(ctx(t), u.ID)
		wantErr(t, "GetUpload", err, store.ErrNotFound)
	}},
	{"UpdateUpload at the next version stores it", func(t *testing.T, m store.Metadata) {
		u := newUpload(t)
		must(t, "CreateUpload", m.CreateUpload(ctx(t), u))
		for v := int64(2); v <= 3; v++ {
			u.Version = v
			u.Offset += 10
			u.Parts = append(u.Parts, store.Part{Number: int(v), ETag: `"e"`, Size: 10})
			u.Hashes = map[string][]byte{"sha256": {byte(v)}, "sha512": {1}}
			must(t, "UpdateUpload", m.UpdateUpload(ctx(t), u))
			got, err := m.GetUpload(ctx(t), u.ID)
			must(t, "GetUpload", err)
			checkUpload(t, got, u)
		}
	}},
	{"UpdateUpload from a stale or future version → ErrConflict", func(t *testing.T, m store.Metadata) {
		u := newUpload(t)
		must(t, "CreateUpload", m.CreateUpload(ctx(t), u))
		won := u
		won.Version, won.Offset = 2, 100
		must(t, "UpdateUpload", m.UpdateUpload(ctx(t), won))
		for _, v := range []int64{1, 2, 4} {
			lost := u
			lost.Version, lost.Offset = v, 999
			wantErr(t, fmt.Sprintf("UpdateUpload at version %d", v), m.UpdateUpload(ctx(t), lost), store.ErrConflict)
		}
		got, err := m.GetUpload(ctx(t), u.ID)
		must(t, "GetUpload", err)
		checkUpload(t, got, won)
	}},
	{"UpdateUpload of an unknown session fails and creates nothing", func(t *testing.T, m store.Metadata) {
		u := newUpload(t)
		u.Version = 2
		err := m.UpdateUpload(ctx(t), u)
		if err == nil {
			t.Fatal("UpdateUpload of an unknown session succeeded")
		}
		_, err = m.GetUpload(ctx(t), u.ID)
		wantErr(t, "GetUpload", err, store.ErrNotFound)
	}},
	{"DeleteUpload at its version removes it; deleting again → ErrNotFound", func(t *testing.T, m store.Metadata) {
		u := newUpload(t)
		must(t, "CreateUpload", m.CreateUpload(ctx(t), u))
		must(t, "DeleteUpload", m.DeleteUpload(ctx(t), u.ID, 1))
		_, err := m.GetUpload(ctx(t), u.ID)
		wantErr(t, "GetUpload after delete", err, store.ErrNotFound)
		wantErr(t, "DeleteUpload again", m.DeleteUpload(ctx(t), u.ID, 1), store.ErrNotFound)
	}},
	{"DeleteUpload at another version → ErrConflict and keeps it", func(t *testing.T, m store.Metadata) {
		u := newUpload(t)
		must(t, "CreateUpload", m.CreateUpload(ctx(t), u))
		u.Version = 2
		must(t, "UpdateUpload", m.UpdateUpload(ctx(t), u))
		for _, v := range []int64{1, 3} {
			wantErr(t, fmt.Sprintf("DeleteUpload at version %d", v), m.DeleteUpload(ctx(t), u.ID, v), store.ErrConflict)
		}
		got, err := m.GetUpload(ctx(t), u.ID)
		must(t, "GetUpload", err)
		checkUpload(t, got, u)
	}},
	{"a delete and an update racing from one version: exactly one wins", func(t *testing.T, m store.Metadata) {
		for range 10 {
			u := newUpload(t)
			must(t, "CreateUpload", m.CreateUpload(ctx(t), u))
			errs := race(func(i int) error {
				if i%2 == 0 {
					return m.DeleteUpload(ctx(t), u.ID, 1)
				}
				next := u
				next.Version = 2
				return m.UpdateUpload(ctx(t), next)
			})
			won := 0
			for _, err := range errs {
				switch {
				case err == nil:
					won++
				case !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound):
					t.Fatalf("a loser got %v, want ErrConflict or ErrNotFound", err)
				}
			}
			if won != 1 {
				t.Fatalf("%d of %d racing claims of one version won", won, len(errs))
			}
		}
	}},
}
