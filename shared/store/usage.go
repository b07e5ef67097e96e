package store

import (
	"context"
	"time"
)

// Usage kinds.
const (
	UsageRepository = "repository"
	UsageTenancy    = "tenancy"
)

// Usage is the blob bytes a repository or tenancy stores, as the last
// garbage collection's mark pass counted them (docs/usage.md): each
// blob once, split into the bytes no other repository (tenancy) links
// and the bytes others link too.
type Usage struct {
	Kind string `json:"kind"`
	// Name is the repository's or the tenancy's name.
	Name    string `json:"name"`
	Tenancy string `json:"tenancy"`
	Bytes   int64  `json:"bytes"`
	// Unique bytes only this repository (tenancy) links; Shared bytes
	// others link too. Unique + Shared = Bytes.
	Unique int64 `json:"uniqueBytes"`
	Shared int64 `json:"sharedBytes"`
	Blobs  int   `json:"blobs"`
	// Measured is when the collection counted it.
	Measured time.Time `json:"measured,omitzero"`
}

// Quota is a tenancy's soft storage quota: a push that would take its
// stored bytes past Bytes is refused.
type Quota struct {
	Tenancy string    `json:"tenancy"`
	Bytes   int64     `json:"bytes"`
	By      string    `json:"by,omitempty"`
	Updated time.Time `json:"updated,omitzero"`
}

// UsageStore holds usage and quotas.
type UsageStore interface {
	// PutUsage stores (or replaces) a usage record.
	PutUsage(ctx context.Context, u Usage) error
	// TenancyUsage returns a tenancy's own usage record or ErrNotFound.
	TenancyUsage(ctx context.Context, tenancy string) (Usage, error)
	// ListUsage returns a tenancy's usage records, its own and its
	// repositories', the tenancy's first.
	ListUsage(ctx context.Context, tenancy string) ([]Usage, error)
	// PutQuota sets a tenancy's quota; Bytes 0 removes it.
	PutQuota(ctx context.Context, q Quota) error
	// GetQuota returns a tenancy's quota or ErrNotFound.
	GetQuota(ctx context.Context, tenancy string) (Quota, error)
}
