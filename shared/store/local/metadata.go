// Package local is Berth's embedded storage for running without AWS:
// metadata in a bbolt file and objects as files in a directory, with
// locally signed, expiring URLs standing in for S3's presigned ones.
package local

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-registry/berth/shared/store"
)

var (
	bucketRepos     = []byte("repos")
	bucketManifests = []byte("manifests")
	bucketReferrers = []byte("referrers")
	bucketTags      = []byte("tags")
	bucketBlobs     = []byte("blobs")
	bucketLinks     = []byte("links")
	bucketUploads   = []byte("uploads")
)

// Metadata implements store.Metadata in a bbolt file.
type Metadata struct {
	db    *cachedDB
	now   func() time.Time
	pulls *pullBuffer
	// outbox: queue the events writes carry (events.go).
	outbox bool
}

var _ store.Metadata = (*Metadata)(nil)

// OpenMetadata opens (creating if needed) the bbolt file at path.
func OpenMetadata(path string) (*Metadata, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 2 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("open metadata %s: %w", path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, b := range append([][]byte{bucketRepos, bucketManifests, bucketReferrers, bucketTags, bucketBlobs, bucketLinks, bucketUploads, bucketOutbox}, append(append(identityBuckets, retentionBuckets...), cacheBuckets...)...) {
			if _, err := tx.CreateBucketIfNotExists(b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("init metadata: %w", err)
	}
	m := &Metadata{db: newCachedDB(db), now: time.Now}
	m.pulls = newPullBuffer(m)
	return m, nil
}

// Close closes the file.
func (m *Metadata) Close() error {
	ferr := m.pulls.stop()
	if err := m.db.Close(); err != nil {
		return err
	}
	return ferr
}

// key joins key parts with NUL, which no name, tag or digest contains.
func key(parts ...string) []byte {
	var b bytes.Buffer
	for i, p := range parts {
		if i > 0 {
			b.WriteByte(0)
		}
		b.WriteString(p)
	}
	return b.Bytes()
}

func get(tx *bolt.Tx, bucket, k []byte, v any) error {
	raw := tx.Bucket(bucket).Get(k)
	if raw == nil {
		return store.ErrNotFound
	}
	return json.Unmarshal(raw, v)
}

func put(tx *bolt.Tx, bucket, k []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return tx.Bucket(bucket).Put(k, raw)
}

func del(tx *bolt.Tx, bucket, k []byte) error {
	b := tx.Bucket(bucket)
	if b.Get(k) == nil {
		return store.ErrNotFound
	}
	return b.Delete(k)
}

// EnsureRepository implements store.Repositories; the event ctx carries
// is queued only when it creates the repository.
func (m *Metadata) EnsureRepository(ctx context.Context, name string) error {
	// A read first keeps the common case (repository exists) off the
	// single bbolt writer.
	if _, err := m.GetRepository(ctx, name); err == nil {
		return nil
	}
	return m.db.Group(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketRepos).Get([]byte(name)) != nil {
			return nil
		}
		return m.putEv(ctx, tx, bucketRepos, []byte(name), store.Repository{Name: name, Created: m.now().UTC()})
	})
}

// GetRepository implements store.Repositories.
func (m *Metadata) GetRepository(_ context.Context, name string) (store.Repository, error) {
	return cachedGet[store.Repository](m, bucketRepos, []byte(name))
}

// ListRepositories implements store.Repositories.
func (m *Metadata) ListRepositories(_ context.Context, after string, limit int) ([]string, error) {
	var out []string
	err := m.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRepos).Cursor()
		k, _ := c.Seek([]byte(after))
		for ; k != nil && len(out) < limit; k, _ = c.Next() {
			if string(k) == after {
				continue
			}
			out = append(out, string(k))
		}
		return nil
	})
	return out, err
}

// PutManifest implements store.Manifests; it carries an event.
func (m *Metadata) PutManifest(ctx context.Context, man store.Manifest) error {
	return m.db.Group(func(tx *bolt.Tx) error {
		if man.Subject != "" {
			if err := tx.Bucket(bucketReferrers).Put(key(man.Repo, man.Subject.String(), man.Digest.String()), nil); err != nil {
				return err
			}
		}
		return m.putEv(ctx, tx, bucketManifests, key(man.Repo, man.Digest.String()), man)
	})
}

// GetManifest implements store.Manifests.
func (m *Metadata) GetManifest(_ context.Context, repo string, d digest.Digest) (store.Manifest, error) {
	return cachedGet[store.Manifest](m, bucketManifests, key(repo, d.String()))
}

// DeleteManifest implements store.Manifests; it carries an event.
func (m *Metadata) DeleteManifest(ctx context.Context, repo string, d digest.Digest) error {
	return m.db.Group(func(tx *bolt.Tx) error {
		var man store.Manifest
		if err := get(tx, bucketManifests, key(repo, d.String()), &man); err != nil {
			return err
		}
		if man.Subject != "" {
			if err := tx.Bucket(bucketReferrers).Delete(key(repo, man.Subject.String(), d.String())); err != nil {
				return err
			}
		}
		return m.delEv(ctx, tx, bucketManifests, key(repo, d.String()))
	})
}

// Referrers implements store.Manifests.
func (m *Metadata) Referrers(_ context.Context, repo string, d digest.Digest) ([]store.Manifest, error) {
	var out []store.Manifest
	err := m.db.View(func(tx *bolt.Tx) error {
		prefix := append(key(repo, d.String()), 0)
		c := tx.Bucket(bucketReferrers).Cursor()
		for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
			var man store.Manifest
			err := get(tx, bucketManifests, key(repo, string(k[len(prefix):])), &man)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			out = append(out, man)
		}
		return nil
	})
	return out, err
}

// PutTag implements store.Tags; it carries an event.
func (m *Metadata) PutTag(ctx context.Context, t store.Tag) error {
	return m.db.Group(func(tx *bolt.Tx) error { return m.putEv(ctx, tx, bucketTags, key(t.Repo, t.Name), t) })
}

// CreateTag implements store.Tags; it carries an event.
func (m *Metadata) CreateTag(ctx context.Context, t store.Tag) error {
	return m.db.Group(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketTags).Get(key(t.Repo, t.Name)) != nil {
			return fmt.Errorf("tag %s:%s: %w", t.Repo, t.Name, store.ErrExists)
		}
		return m.putEv(ctx, tx, bucketTags, key(t.Repo, t.Name), t)
	})
}

// GetTag implements store.Tags.
func (m *Metadata) GetTag(_ context.Context, repo, name string) (store.Tag, error) {
	return cachedGet[store.Tag](m, bucketTags, key(repo, name))
}

// DeleteTag implements store.Tags; it carries an event.
func (m *Metadata) DeleteTag(ctx context.Context, repo, name string) error {
	return m.db.Group(func(tx *bolt.Tx) error { return m.delEv(ctx, tx, bucketTags, key(repo, name)) })
}

// ListTags implements store.Tags.
func (m *Metadata) ListTags(_ context.Context, repo, after string, limit int) ([]store.Tag, error) {
	var out []store.Tag
	err := m.scanTags(repo, after, limit, func(_, v []byte) error {
		var t store.Tag
		if err := json.Unmarshal(v, &t); err != nil {
			return err
		}
		out = append(out, t)
		return nil
	})
	return out, err
}

// ListTagNames implements store.TagNames: the names are the keys' ends,
// so no record is decoded.
func (m *Metadata) ListTagNames(_ context.Context, repo, after string, limit int) ([]string, error) {
	var out []string
	err := m.scanTags(repo, after, limit, func(name, _ []byte) error {
		out = append(out, string(name))
		return nil
	})
	return out, err
}

// scanTags calls fn with the name and record of up to limit tags of
// repo in lexical order, after the name given (exclusive).
func (m *Metadata) scanTags(repo, after string, limit int, fn func(name, v []byte) error) error {
	return m.db.View(func(tx *bolt.Tx) error {
		prefix := append(key(repo), 0)
		c := tx.Bucket(bucketTags).Cursor()
		n := 0
		for k, v := c.Seek(key(repo, after)); k != nil && bytes.HasPrefix(k, prefix) && n < limit; k, v = c.Next() {
			name := k[len(prefix):]
			if string(name) == after && after != "" {
				continue
			}
			if err := fn(name, v); err != nil {
				return err
			}
			n++
		}
		return nil
	})
}

// PutBlob implements store.Blobs.
func (m *Metadata) PutBlob(_ context.Context, b store.Blob) error {
	return m.db.Group(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketBlobs).Get([]byte(b.Digest)) != nil {
			return store.ErrExists
		}
		return put(tx, bucketBlobs, []byte(b.Digest), b)
	})
}

// GetBlob implements store.Blobs.
func (m *Metadata) GetBlob(_ context.Context, d digest.Digest) (store.Blob, error) {
	var b store.Blob
	err := m.db.View(func(tx *bolt.Tx) error { return get(tx, bucketBlobs, []byte(d), &b) })
	return b, err
}

// link is a blob's record as linked to a repository.
type link struct {
	store.Blob
	Touched time.Time `json:"touched"`
}

// LinkBlob implements store.Blobs.
func (m *Metadata) LinkBlob(_ context.Context, repo string, b store.Blob) error {
	return m.db.Group(func(tx *bolt.Tx) error {
		return put(tx, bucketLinks, key(repo, b.Digest.String()), link{Blob: b, Touched: m.now().UTC()})
	})
}

// GetLink implements store.Blobs.
func (m *Metadata) GetLink(_ context.Context, repo string, d digest.Digest) (store.Blob, error) {
	l, err := cachedGet[link](m, bucketLinks, key(repo, d.String()))
	return l.Blob, err
}

// UnlinkBlob implements store.Blobs.
func (m *Metadata) UnlinkBlob(_ context.Context, repo string, d digest.Digest) error {
	return m.db.Group(func(tx *bolt.Tx) error { return del(tx, bucketLinks, key(repo, d.String())) })
}

// CreateUpload implements store.Uploads.
func (m *Metadata) CreateUpload(_ context.Context, u store.Upload) error {
	return m.db.Group(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketUploads).Get([]byte(u.ID)) != nil {
			return store.ErrExists
		}
		u.Version = 1
		return put(tx, bucketUploads, []byte(u.ID), u)
	})
}

// GetUpload implements store.Uploads.
func (m *Metadata) GetUpload(_ context.Context, id string) (store.Upload, error) {
	var u store.Upload
	err := m.db.View(func(tx *bolt.Tx) error { return get(tx, bucketUploads, []byte(id), &u) })
	if err == nil && !u.Expires.IsZero() && m.now().After(u.Expires) {
		return store.Upload{}, store.ErrNotFound
	}
	return u, err
}

// UpdateUpload implements store.Uploads.
func (m *Metadata) UpdateUpload(_ context.Context, u store.Upload) error {
	return m.db.Group(func(tx *bolt.Tx) error {
		var cur store.Upload
		if err := get(tx, bucketUploads, []byte(u.ID), &cur); err != nil {
			return err
		}
		if cur.Version != u.Version-1 {
			return fmt.Errorf("upload %s at version %d, update from %d: %w", u.ID, cur.Version, u.Version-1, store.ErrConflict)
		}
		return put(tx, bucketUploads, []byte(u.ID), u)
	})
}

// DeleteUpload implements store.Uploads.
func (m *Metadata) DeleteUpload(_ context.Context, id string, version int64) error {
	return m.db.Group(func(tx *bolt.Tx) error {
		var cur store.Upload
		if err := get(tx, bucketUploads, []byte(id), &cur); err != nil {
			return err
		}
		if cur.Version != version {
			return fmt.Errorf("upload %s at version %d, delete at %d: %w", id, cur.Version, version, store.ErrConflict)
		}
		return tx.Bucket(bucketUploads).Delete([]byte(id))
	})
}

// PutRepository implements store.Repositories; it carries an event.
func (m *Metadata) PutRepository(ctx context.Context, r store.Repository) error {
	return m.db.Group(func(tx *bolt.Tx) error { return m.putEv(ctx, tx, bucketRepos, []byte(r.Name), r) })
}

// DeleteRepository implements store.Repositories; it carries an event.
func (m *Metadata) DeleteRepository(ctx context.Context, name string) error {
	return m.db.Group(func(tx *bolt.Tx) error { return m.delEv(ctx, tx, bucketRepos, []byte(name)) })
}

// listRepoRecords decodes up to limit records of a repository-keyed
// bucket after a key suffix (exclusive).
func listRepoRecords[T any](m *Metadata, bucket []byte, repo, after string, limit int) ([]T, error) {
	var out []T
	err := m.db.View(func(tx *bolt.Tx) error {
		p := prefix(repo)
		c := tx.Bucket(bucket).Cursor()
		for k, v := c.Seek(key(repo, after)); k != nil && bytes.HasPrefix(k, p) && len(out) < limit; k, v = c.Next() {
			if after != "" && string(k[len(p):]) == after {
				continue
			}
			var x T
			if err := json.Unmarshal(v, &x); err != nil {
				return err
			}
			out = append(out, x)
		}
		return nil
	})
	return out, err
}

// ListManifests implements store.Manifests.
func (m *Metadata) ListManifests(_ context.Context, repo string, after digest.Digest, limit int) ([]store.Manifest, error) {
	return listRepoRecords[store.Manifest](m, bucketManifests, repo, after.String(), limit)
}

// ListLinks implements store.Blobs.
func (m *Metadata) ListLinks(_ context.Context, repo string, after digest.Digest, limit int) ([]store.Blob, error) {
	links, err := listRepoRecords[link](m, bucketLinks, repo, after.String(), limit)
	out := make([]store.Blob, 0, len(links))
	for _, l := range links {
		out = append(out, l.Blob)
	}
	return out, err
}
