package dynamo

import (
	"context"
	"errors"

	"github.com/berth-registry/berth/shared/store"
)

// Usage lives in USAGE#<tenancy>: "T" the tenancy's own, "R#<repo>" each
// repository's (ListUsage is one Query, the tenancy's first); a quota in
// TENANCY#<tenancy> / "Q".
const (
	pkUsagePrefix = "USAGE#"
	skUsageTen    = "T"
	skUsageRepo   = "R#"
	skQuota       = "Q"
)

var _ store.UsageStore = (*Table)(nil)

// PutUsage implements store.UsageStore.
func (t *Table) PutUsage(ctx context.Context, u store.Usage) error {
	sk := skUsageRepo + u.Name
	if u.Kind == store.UsageTenancy {
		sk = skUsageTen
	}
	return t.put(ctx, pkUsagePrefix+u.Tenancy, sk, u)
}

// TenancyUsage implements store.UsageStore.
func (t *Table) TenancyUsage(ctx context.Context, tenancy string) (store.Usage, error) {
	var u store.Usage
	return u, t.get(ctx, pkUsagePrefix+tenancy, skUsageTen, &u)
}

// ListUsage implements store.UsageStore: one Query ("R#..." sorts
// before "T", so the tenancy's record is moved first).
func (t *Table) ListUsage(ctx context.Context, tenancy string) ([]store.Usage, error) {
	all, err := listAll[store.Usage](ctx, t, pkUsagePrefix+tenancy, "")
	if err != nil {
		return nil, err
	}
	for i, u := range all {
		if u.Kind == store.UsageTenancy && i > 0 {
			all = append(append([]store.Usage{u}, all[:i]...), all[i+1:]...)
			break
		}
	}
	return all, nil
}

// PutQuota implements store.UsageStore.
func (t *Table) PutQuota(ctx context.Context, q store.Quota) error {
	if q.Bytes == 0 {
		_, err := t.del(ctx, tenancyPK(q.Tenancy), skQuota)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	return t.put(ctx, tenancyPK(q.Tenancy), skQuota, q)
}

// GetQuota implements store.UsageStore.
func (t *Table) GetQuota(ctx context.Context, tenancy string) (store.Quota, error) {
	var q store.Quota
	return q, t.get(ctx, tenancyPK(tenancy), skQuota, &q)
}
