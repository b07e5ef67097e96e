package local

import (
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/berth-registry/berth/shared/store"
)

var (
	bucketCacheRules = []byte("cache-rules")
	bucketFills      = []byte("fills")
)

var cacheBuckets = [][]byte{bucketCacheRules, bucketFills}

var _ store.Cache = (*Metadata)(nil)

// PutCacheRule implements store.CacheRules.
func (m *Metadata) PutCacheRule(_ context.Context, r store.CacheRule) error {
	return m.db.Update(func(tx *bolt.Tx) error {
		k := key(r.Tenancy, r.Prefix)
		var cur store.CacheRule
		err := get(tx, bucketCacheRules, k, &cur)
		switch {
		case errors.Is(err, store.ErrNotFound) && r.Version != 1:
			return fmt.Errorf("cache rule %s/%s is absent, put at version %d: %w", r.Tenancy, r.Prefix, r.Version, store.ErrConflict)
		case err == nil && r.Version == 1:
			return fmt.Errorf("cache rule %s/%s: %w", r.Tenancy, r.Prefix, store.ErrExists)
		case err == nil && cur.Version != r.Version-1:
			return fmt.Errorf("cache rule %s/%s at version %d, put from %d: %w", r.Tenancy, r.Prefix, cur.Version, r.Version-1, store.ErrConflict)
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		}
		return put(tx, bucketCacheRules, k, r)
	})
}

// GetCacheRule implements store.CacheRules.
func (m *Metadata) GetCacheRule(_ context.Context, tenancy, prefix string) (store.CacheRule, error) {
	var r store.CacheRule
	return r, m.getRecord(bucketCacheRules, key(tenancy, prefix), &r)
}

// ListCacheRules implements store.CacheRules.
func (m *Metadata) ListCacheRules(_ context.Context, tenancy string) ([]store.CacheRule, error) {
	return list[store.CacheRule](m, bucketCacheRules, prefix(tenancy))
}

// DeleteCacheRule implements store.CacheRules.
func (m *Metadata) DeleteCacheRule(_ context.Context, tenancy, name string) error {
	return m.delRecord(bucketCacheRules, key(tenancy, name))
}

// ClaimFill implements store.Fills.
func (m *Metadata) ClaimFill(_ context.Context, f store.Fill) error {
	return m.db.Update(func(tx *bolt.Tx) error {
		var cur store.Fill
		err := get(tx, bucketFills, key(f.Repo, f.Ref), &cur)
		if err == nil && !m.now().After(cur.Expires) {
			return fmt.Errorf("fill of %s %s held by %s: %w", f.Repo, f.Ref, cur.Owner, store.ErrExists)
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		return put(tx, bucketFills, key(f.Repo, f.Ref), f)
	})
}

// GetFill implements store.Fills.
func (m *Metadata) GetFill(_ context.Context, repo, ref string) (store.Fill, error) {
	var f store.Fill
	if err := m.getRecord(bucketFills, key(repo, ref), &f); err != nil {
		return store.Fill{}, err
	}
	if m.now().After(f.Expires) {
		return store.Fill{}, fmt.Errorf("fill of %s %s expired at %v: %w", repo, ref, f.Expires, store.ErrNotFound)
	}
	return f, nil
}

// UpdateFill implements store.Fills.
func (m *Metadata) UpdateFill(_ context.Context, f store.Fill) error {
	return m.db.Update(func(tx *bolt.Tx) error {
		var cur store.Fill
		if err := get(tx, bucketFills, key(f.Repo, f.Ref), &cur); err != nil || cur.Owner != f.Owner {
			return fmt.Errorf("fill of %s %s is not %s's: %w", f.Repo, f.Ref, f.Owner, store.ErrConflict)
		}
		return put(tx, bucketFills, key(f.Repo, f.Ref), f)
	})
}

// ReleaseFill implements store.Fills.
func (m *Metadata) ReleaseFill(_ context.Context, repo, ref, owner string) error {
	return m.db.Update(func(tx *bolt.Tx) error {
		var cur store.Fill
		if err := get(tx, bucketFills, key(repo, ref), &cur); err != nil || cur.Owner != owner {
			return fmt.Errorf("fill of %s %s is not %s's: %w", repo, ref, owner, store.ErrConflict)
		}
		return tx.Bucket(bucketFills).Delete(key(repo, ref))
	})
}
