package dynamo_test

import (
	"testing"

	"github.com/berth-registry/berth/shared/store/storetest"
)

// TestCacheContract runs the store.Cache contract suite on one table
// shared by every subtest (names are unique per subtest).
func TestCacheContract(t *testing.T) {
	tbl, _ := open(t)
	storetest.Cache(t, func(*testing.T) storetest.CacheStore { return tbl })
}
