package local_test

import (
	"path/filepath"
	"testing"

	"github.com/berth-registry/berth/shared/store/local"
	"github.com/berth-registry/berth/shared/store/storetest"
)

// TestRetentionContract runs the store.Retention contract suite against
// a fresh bbolt file per subtest.
func TestRetentionContract(t *testing.T) {
	storetest.Retention(t, func(t *testing.T) storetest.RetentionStore {
		m, err := local.OpenMetadata(filepath.Join(t.TempDir(), "metadata.db"))
		if err != nil {
			t.Fatalf("OpenMetadata: %v", err)
		}
		t.Cleanup(func() { m.Close() })
		return m
	})
}
