package local

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-registry/berth/shared/store"
)

// ReplaceBlob implements store.BlobRepairs.
func (m *Metadata) ReplaceBlob(_ context.Context, nb, old store.Blob) error {
	return m.db.Update(func(tx *bolt.Tx) error {
		var b blobRecord
		if err := get(tx, bucketBlobs, []byte(nb.Digest), &b); err != nil {
			return err
		}
		if b.Key != old.Key {
			return fmt.Errorf("blob %s names %s, not %s: %w", nb.Digest, b.Key, old.Key, store.ErrConflict)
		}
		return put(tx, bucketBlobs, []byte(nb.Digest), blobRecord{Blob: nb, Touched: m.now().UTC()})
	})
}

// QuarantineBlob implements store.BlobRepairs.
func (m *Metadata) QuarantineBlob(_ context.Context, old store.Blob, marker string) error {
	return m.db.Update(func(tx *bolt.Tx) error {
		var b blobRecord
		if err := get(tx, bucketBlobs, []byte(old.Digest), &b); err != nil {
			return err
		}
		if b.Key != old.Key || b.Condemned != "" {
			return fmt.Errorf("blob %s names %s (condemned %q), not %s: %w", old.Digest, b.Key, b.Condemned, old.Key, store.ErrConflict)
		}
		b.Condemned = marker
		return put(tx, bucketBlobs, []byte(old.Digest), b)
	})
}

// RepointLink implements store.BlobRepairs.
func (m *Metadata) RepointLink(_ context.Context, repo string, nb store.Blob, old string) error {
	return m.db.Update(func(tx *bolt.Tx) error {
		k := key(repo, nb.Digest.String())
		var l link
		if err := get(tx, bucketLinks, k, &l); err != nil {
			return err
		}
		if l.Key != old {
			return fmt.Errorf("link %s@%s names %s, not %s: %w", repo, nb.Digest, l.Key, old, store.ErrConflict)
		}
		l.Blob = nb
		return put(tx, bucketLinks, k, l)
	})
}

// UnlinkBlobIf implements store.BlobRepairs.
func (m *Metadata) UnlinkBlobIf(_ context.Context, repo string, d digest.Digest, old string) error {
	return m.db.Update(func(tx *bolt.Tx) error {
		k := key(repo, d.String())
		var l link
		if err := get(tx, bucketLinks, k, &l); err != nil {
			return err
		}
		if l.Key != old {
			return fmt.Errorf("link %s@%s names %s, not %s: %w", repo, d, l.Key, old, store.ErrConflict)
		}
		return tx.Bucket(bucketLinks).Delete(k)
	})
}
