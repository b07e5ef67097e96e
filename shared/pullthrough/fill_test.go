package pullthrough

import (
	"bytes"
	"crypto/rand"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/local"
)

// TestWriteVerifiesBeforeAnythingIsVisible streams blobs of every size
// class into the embedded object store (which enforces S3's part sizes):
// each is stored whole once its digest matches, and one whose bytes do
// not match its digest leaves no object and no multipart upload behind.
func TestWriteVerifiesBeforeAnythingIsVisible(t *testing.T) {
	dir := t.TempDir()
	objs, err := local.OpenObjects(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := New(Stores{Blobs: objs}, nil, nil, Config{PartSize: store.MinPartSize}, slog.New(slog.DiscardHandler))
	part := int(store.MinPartSize)
	for _, size := range []int{0, 1, 4096, part - 1, part, part + 1, 2*part + part/2} {
		data := make([]byte, size)
		_, _ = rand.Read(data)
		for _, algo := range []digest.Algorithm{digest.SHA256, digest.SHA512} {
			d := algo.FromBytes(data)
			b, err := c.write(t.Context(), bytes.NewReader(data), d, int64(size))
			if err != nil {
				t.Fatalf("%d bytes (%s): %v", size, algo, err)
			}
			got, err := objs.Get(t.Context(), b.Key)
			if err != nil || !bytes.Equal(got, data) || b.Size != int64(size) || b.Digest != d {
				t.Fatalf("%d bytes (%s): stored %d bytes at %s (%v), record %+v", size, algo, len(got), b.Key, err, b)
			}
		}
		if size == 0 {
			continue
		}
		before := files(t, dir)
		wrong := digest.SHA256.FromString("not these bytes")
		if _, err := c.write(t.Context(), bytes.NewReader(data), wrong, int64(size)); !errors.Is(err, errDigest) {
			t.Fatalf("%d bytes under the wrong digest: %v, want a digest mismatch", size, err)
		}
		if after := files(t, dir); after != before {
			t.Errorf("%d bytes under the wrong digest left files behind: %d before, %d after", size, before, after)
		}
		if _, err := c.write(t.Context(), bytes.NewReader(data[:size-1]), digest.FromBytes(data), int64(size)); err == nil {
			t.Errorf("%d bytes, one short: accepted", size)
		}
	}
}

// files counts the regular files under dir.
func files(t *testing.T, dir string) int {
	n := 0
	err := filepath.WalkDir(dir, func(_ string, e os.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			n++
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}
