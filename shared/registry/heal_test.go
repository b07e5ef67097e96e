package registry_test

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/registry"
	"github.com/berth-registry/berth/shared/store"
)

// TestACommitHealsABadRecord: when a verified upload arrives for a digest
// whose record's object is missing or holds other bytes (the state the
// race of two commits of one session left, seen in issue 12: a later
// push of the real bytes by anyone kept serving the wrong ones), the
// verified copy replaces the record, the mismatch is logged, and pulls
// serve the right bytes. A record whose object is right is reused and
// the new copy dropped.
func TestACommitHealsABadRecord(t *testing.T) {
	real := randBytes(4096, 7)
	d := digest.FromBytes(real)
	for _, tc := range []struct {
		name   string
		object []byte // what the record's object holds; nil: no object
		heal   bool
	}{
		{"same size, other bytes", randBytes(4096, 8), true},
		{"another size", []byte("43 bytes of something else entirely......."), true},
		{"object missing", nil, true},
		{"object right", real, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			if tc.object != nil {
				if err := e.objs.Put(ctx, "blobs/old", tc.object); err != nil {
					t.Fatal(err)
				}
			}
			old := store.Blob{Digest: d, Size: int64(len(real)), Key: "blobs/old", Created: time.Now().UTC()}
			if err := e.meta.PutBlob(ctx, old); err != nil {
				t.Fatal(err)
			}
			e.pushBlob(t, "dev/later", real)
			if got := e.follow(t, "/v2/dev/later/blobs/"+d.String()); !bytes.Equal(got, real) {
				t.Fatalf("the pull served %d bytes of %s, not the pushed bytes", len(got), digest.FromBytes(got))
			}
			rec, err := e.meta.GetBlob(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			logged := strings.Contains(e.logs.String(), "does not hold its digest's bytes")
			if healed := rec.Key != "blobs/old"; healed != tc.heal || logged != tc.heal {
				t.Fatalf("record now names %s (logged: %v); want healed = %v\n%s", rec.Key, logged, tc.heal, e.logs.String())
			}
			if !tc.heal && len(e.leftovers(t)) > 0 {
				t.Fatalf("the reused record's duplicate left %v", e.leftovers(t))
			}
		})
	}
}

// TestACommitChecksLargeRecordsBySizeOnly: past RehashMax a commit does
// not read the existing object (`berth blobs verify` does).
func TestACommitChecksLargeRecordsBySizeOnly(t *testing.T) {
	cfg := registry.DefaultConfig()
	cfg.RehashMax = 1024
	e := newEnvConfig(t, cfg, nil)
	ctx := context.Background()
	real := randBytes(4096, 9)
	d := digest.FromBytes(real)
	if err := e.objs.Put(ctx, "blobs/old", randBytes(4096, 10)); err != nil {
		t.Fatal(err)
	}
	if err := e.meta.PutBlob(ctx, store.Blob{Digest: d, Size: 4096, Key: "blobs/old", Created: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	e.pushBlob(t, "dev/later", real)
	if rec, err := e.meta.GetBlob(ctx, d); err != nil || rec.Key != "blobs/old" {
		t.Fatalf("record %+v %v: a same-size record over RehashMax is kept", rec, err)
	}
}
