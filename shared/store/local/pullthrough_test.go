package local_test

import (
	"path/filepath"
	"testing"

	"github.com/berth-registry/berth/shared/store/local"
	"github.com/berth-registry/berth/shared/store/storetest"
)

// TestCacheContract runs the store.Cache contract suite against a fresh
// bbolt file per subtest.
func TestCacheContract(t *testing.T) {
	storetest.Cache(t, func(t *testing.T) storetest.CacheStore {
		m, err := local.OpenMetadata(filepath.Join(t.TempDir(), "metadata.db"))
		if err != nil {
			t.Fatalf("OpenMetadata: %v", err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	})
}
