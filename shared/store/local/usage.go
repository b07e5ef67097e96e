package local

import (
	"context"
	"errors"

	"github.com/berth-registry/berth/shared/store"
)

// Usage records by tenancy: key (tenancy, "") for the tenancy's own,
// (tenancy, repository) for a repository's; quotas by tenancy.
var (
	bucketUsage  = []byte("usage")
	bucketQuotas = []byte("quotas")
)

var _ store.UsageStore = (*Metadata)(nil)

func usageKey(u store.Usage) []byte {
	if u.Kind == store.UsageTenancy {
		return key(u.Tenancy, "")
	}
	return key(u.Tenancy, u.Name)
}

// PutUsage implements store.UsageStore.
func (m *Metadata) PutUsage(_ context.Context, u store.Usage) error {
	return m.putRecord(bucketUsage, usageKey(u), u)
}

// TenancyUsage implements store.UsageStore.
func (m *Metadata) TenancyUsage(_ context.Context, tenancy string) (store.Usage, error) {
	var u store.Usage
	return u, m.getRecord(bucketUsage, key(tenancy, ""), &u)
}

// ListUsage implements store.UsageStore.
func (m *Metadata) ListUsage(_ context.Context, tenancy string) ([]store.Usage, error) {
	return list[store.Usage](m, bucketUsage, prefix(tenancy))
}

// PutQuota implements store.UsageStore.
func (m *Metadata) PutQuota(_ context.Context, q store.Quota) error {
	if q.Bytes == 0 {
		err := m.delRecord(bucketQuotas, []byte(q.Tenancy))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	return m.putRecord(bucketQuotas, []byte(q.Tenancy), q)
}

// GetQuota implements store.UsageStore.
func (m *Metadata) GetQuota(_ context.Context, tenancy string) (store.Quota, error) {
	var q store.Quota
	return q, m.getRecord(bucketQuotas, []byte(tenancy), &q)
}
