package local_test

import (
	"path/filepath"
	"testing"

	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/local"
	"github.com/berth-registry/berth/shared/store/storetest"
)

// TestMetadataContract runs the store.Metadata contract suite against a
// fresh bbolt file per subtest.
func TestMetadataContract(t *testing.T) {
	storetest.Metadata(t, func(t *testing.T) store.Metadata {
		m, err := local.OpenMetadata(filepath.Join(t.TempDir(), "metadata.db"))
		if err != nil {
			t.Fatalf("OpenMetadata: %v", err)
		}
		t.Cleanup(func() {
			if err := m.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return m
	})
}

// TestObjectsContract runs the store.BlobStore contract suite against a
// fresh object directory per subtest.
func TestObjectsContract(t *testing.T) {
	storetest.BlobStore(t, func(t *testing.T) store.BlobStore {
		o, err := local.OpenObjects(t.TempDir())
		if err != nil {
			t.Fatalf("OpenObjects: %v", err)
		}
		return o
	})
}
