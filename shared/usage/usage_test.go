package usage

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/local"
)

// A blob linked in two repositories of one tenancy is shared for each
// repository and unique for the tenancy; one linked in two tenancies is
// shared for both; a repository linking nothing stores nothing.
func TestTallySplitsUniqueAndShared(t *testing.T) {
	tl := NewTally()
	a, b, c := digest.FromString("a"), digest.FromString("b"), digest.FromString("c")
	tl.Link("dev/app", a, 100)
	tl.Link("dev/app", b, 10)
	tl.Link("dev/web", a, 100)
	tl.Link("ops/tool", b, 10)
	tl.Link("ops/tool", c, 1)
	tl.Repository("dev/empty")
	got := map[string]store.Usage{}
	for _, u := range tl.Usage(time.Unix(0, 0)) {
		got[u.Kind+" "+u.Name] = u
	}
	for k, want := range map[string][3]int64{
		"repository dev/app":   {110, 0, 110},
		"repository dev/web":   {100, 0, 100},
		"repository ops/tool":  {11, 1, 10},
		"repository dev/empty": {0, 0, 0},
		"tenancy dev":          {110, 100, 10},
		"tenancy ops":          {11, 1, 10},
	} {
		u, ok := got[k]
		if !ok || u.Bytes != want[0] || u.Unique != want[1] || u.Shared != want[2] {
			t.Errorf("%s: %+v, want bytes %d, unique %d, shared %d", k, u, want[0], want[1], want[2])
		}
	}
	if len(got) != 6 {
		t.Errorf("%d records, want 6", len(got))
	}
}

// The checker refuses a blob past the quota with DENIED naming the
// quota and the usage, refuses any upload at the quota, and lets
// everything through without one.
func TestCheckerRefusesPastTheQuota(t *testing.T) {
	m, err := local.OpenMetadata(filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := context.Background()
	c := NewChecker(m)
	if err := c.Admit(ctx, "dev/app", 1<<40); err != nil {
		t.Fatalf("no quota: %v", err)
	}
	if err := m.PutUsage(ctx, store.Usage{Kind: store.UsageTenancy, Name: "dev", Tenancy: "dev", Bytes: 900, Measured: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := m.PutQuota(ctx, store.Quota{Tenancy: "dev", Bytes: 1000}); err != nil {
		t.Fatal(err)
	}
	if err := c.Admit(ctx, "dev/app", 100); err != nil {
		t.Errorf("900 + 100 of 1000: %v", err)
	}
	err = c.Admit(ctx, "dev/app", 101)
	e, ok := err.(*errcode.Error)
	if !ok || e.Code != errcode.Denied || !strings.Contains(e.Message, "quota of 1000 B") || !strings.Contains(e.Message, "stores 900 B") {
		t.Errorf("900 + 101 of 1000: %v, want DENIED naming the quota and usage", err)
	}
	if err := c.Admit(ctx, "ops/app", 1<<40); err != nil {
		t.Errorf("another tenancy: %v", err)
	}
	if err := m.PutUsage(ctx, store.Usage{Kind: store.UsageTenancy, Name: "dev", Tenancy: "dev", Bytes: 1000}); err != nil {
		t.Fatal(err)
	}
	c = NewChecker(m) // past the cache
	if err := c.Admit(ctx, "dev/app", 0); err == nil {
		t.Error("an upload at the quota was admitted")
	}
}

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536 << 20: "1.5 GiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}
