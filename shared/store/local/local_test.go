package local_test

import (
	"path/filepath"
	"testing"

	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/local"
	"github.com/berth-registry/berth/shared/store/storetest"
)

// openMetadata opens a fresh bbolt file for one subtest.
func openMetadata(t *testing.T) *local.Metadata {
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
}

// TestMetadataContract runs the store.Metadata contract suite against a
// fresh bbolt file per subtest.
func TestMetadataContract(t *testing.T) {
	storetest.Metadata(t, func(t *testing.T) store.Metadata { return openMetadata(t) })
}

// TestIdentityContract runs the store.Identity contract suite against a
// fresh bbolt file per subtest.
func TestIdentityContract(t *testing.T) {
	storetest.Identity(t, func(t *testing.T) store.Identity { return openMetadata(t) })
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
