package usage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/store"
)

// Checker enforces tenancies' soft quotas (registry.Quota): a blob that
// would take a tenancy's stored bytes, as the last collection measured
// them, past its quota is refused with DENIED, naming both. It is soft:
// what was pushed since that measurement is not counted, so a tenancy
// may pass its quota by up to an hour's pushes.
type Checker struct {
	st store.UsageStore

	mu    sync.Mutex
	cache map[string]cached
}

type cached struct {
	quota   int64
	used    int64
	at      time.Time
	checked time.Time
}

// cacheTTL bounds how long a quota change or a new measurement takes to
// apply in a warm function, once the tenancy has a quota. A tenancy
// without one is looked up on every check (one read), so a new quota
// applies at once.
const cacheTTL = 30 * time.Second

// NewChecker returns a Checker over st.
func NewChecker(st store.UsageStore) *Checker {
	return &Checker{st: st, cache: map[string]cached{}}
}

// Admit implements registry.Quota: nil when repo's tenancy has no quota
// or size more bytes fit in it. A size of 0 asks whether the tenancy is
// at its quota already (before an upload starts).
func (c *Checker) Admit(ctx context.Context, repo string, size int64) error {
	ten := tenancyOf(repo)
	q, err := c.lookup(ctx, ten)
	if err != nil || q.quota == 0 {
		return err
	}
	if (size == 0 && q.used >= q.quota) || (size > 0 && q.used+size > q.quota) {
		measured := "not measured yet"
		if !q.at.IsZero() {
			measured = "measured " + q.at.UTC().Format(time.RFC3339)
		}
		msg := fmt.Sprintf("tenancy %s is at its storage quota of %s: it stores %s (%s)", ten, exact(q.quota), exact(q.used), measured)
		if size > 0 {
			msg = fmt.Sprintf("this blob (%s) would take tenancy %s past its storage quota of %s: it stores %s (%s)", exact(size), ten, exact(q.quota), exact(q.used), measured)
		}
		return errcode.New(errcode.Denied, "%s; delete images or ask an administrator to raise the quota", msg)
	}
	return nil
}

// lookup returns a tenancy's quota and usage, cached for cacheTTL.
func (c *Checker) lookup(ctx context.Context, ten string) (cached, error) {
	now := time.Now() // the cache's own clock, not the registry's
	c.mu.Lock()
	q, ok := c.cache[ten]
	c.mu.Unlock()
	if ok && now.Sub(q.checked) < cacheTTL && now.Sub(q.checked) >= 0 {
		return q, nil
	}
	q = cached{checked: now}
	quota, err := c.st.GetQuota(ctx, ten)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return q, err
	}
	q.quota = quota.Bytes
	if q.quota > 0 {
		u, err := c.st.TenancyUsage(ctx, ten)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return q, err
		}
		q.used, q.at = u.Bytes, u.Measured
	}
	if q.quota == 0 {
		return q, nil
	}
	c.mu.Lock()
	if len(c.cache) > 10000 {
		clear(c.cache)
	}
	c.cache[ten] = q
	c.mu.Unlock()
	return q, nil
}

// Bytes writes n in binary units ("1.5 GiB").
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// exact writes n in binary units and, past 1 KiB, in bytes too: a
// quota and a usage that round alike still read apart.
func exact(n int64) string {
	if n < 1024 {
		return Bytes(n)
	}
	return fmt.Sprintf("%s = %d bytes", Bytes(n), n)
}
