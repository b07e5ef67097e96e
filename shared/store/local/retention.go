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
	bucketRetPolicies  = []byte("retention-policies")
	bucketRetAssign    = []byte("retention-assignments")
	bucketImageStats   = []byte("image-stats")
	bucketRetRuns      = []byte("retention-runs")
	bucketRetRunRepos  = []byte("retention-run-repos")
	bucketRetDecisions = []byte("retention-decisions")
	bucketPins         = []byte("pins")
	bucketBin          = []byte("recycle-bin")
)

var retentionBuckets = [][]byte{bucketRetPolicies, bucketRetAssign, bucketImageStats, bucketRetRuns,
	bucketRetRunRepos, bucketRetDecisions, bucketPins, bucketBin, bucketRunCounted, bucketRefusals, bucketUsage, bucketQuotas}

var _ store.Retention = (*Metadata)(nil)

// SetClock replaces the clock the store stamps links, touches and
// upload expiry checks with (tests that move time).
func (m *Metadata) SetClock(now func() time.Time) { m.now = now }

// SetNoSync skips the fsync after each write (bulk loading in
// benchmarks: a crash may lose the latest writes).
func (m *Metadata) SetNoSync(on bool) { m.db.NoSync = on }

// PutRetentionPolicy implements store.RetentionPolicies; it carries an
// event.
func (m *Metadata) PutRetentionPolicy(ctx context.Context, p store.RetentionPolicy) error {
	return m.db.Update(func(tx *bolt.Tx) error {
		k := key(p.Tenancy, p.Name)
		var cur store.RetentionPolicy
		err := get(tx, bucketRetPolicies, k, &cur)
		switch {
		case errors.Is(err, store.ErrNotFound) && p.Version != 1:
			return fmt.Errorf("retention policy %s/%s is absent, put at version %d: %w", p.Tenancy, p.Name, p.Version, store.ErrConflict)
		case err == nil && p.Version == 1:
			return fmt.Errorf("retention policy %s/%s: %w", p.Tenancy, p.Name, store.ErrExists)
		case err == nil && cur.Version != p.Version-1:
			return fmt.Errorf("retention policy %s/%s at version %d, put from %d: %w", p.Tenancy, p.Name, cur.Version, p.Version-1, store.ErrConflict)
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return err
		}
		return m.putEv(ctx, tx, bucketRetPolicies, k, p)
	})
}

// GetRetentionPolicy implements store.RetentionPolicies.
func (m *Metadata) GetRetentionPolicy(_ context.Context, tenancy, name string) (store.RetentionPolicy, error) {
	var p store.RetentionPolicy
	return p, m.getRecord(bucketRetPolicies, key(tenancy, name), &p)
}

// ListRetentionPolicies implements store.RetentionPolicies.
func (m *Metadata) ListRetentionPolicies(_ context.Context, tenancy string) ([]store.RetentionPolicy, error) {
	return list[store.RetentionPolicy](m, bucketRetPolicies, prefix(tenancy))
}

// DeleteRetentionPolicy implements store.RetentionPolicies; it carries
// an event.
func (m *Metadata) DeleteRetentionPolicy(ctx context.Context, tenancy, name string) error {
	return m.db.Update(func(tx *bolt.Tx) error { return m.delEv(ctx, tx, bucketRetPolicies, key(tenancy, name)) })
}

// Assign implements store.RetentionAssignments; the event ctx carries
// is queued only when the assignment is new.
func (m *Metadata) Assign(ctx context.Context, a store.Assignment) error {
	return m.db.Update(func(tx *bolt.Tx) error {
		var cur store.Assignment
		err := get(tx, bucketRetAssign, key(a.Tenancy, a.Repo), &cur)
		if err == nil && cur.Policy == a.Policy {
			return nil
		} else if err == nil {
			return fmt.Errorf("repository %s is under policy %q: %w", a.Repo, cur.Policy, store.ErrExists)
		}
		return m.putEv(ctx, tx, bucketRetAssign, key(a.Tenancy, a.Repo), a)
	})
}

// Unassign implements store.RetentionAssignments; it carries an event.
func (m *Metadata) Unassign(ctx context.Context, tenancy, repo string) error {
	return m.db.Update(func(tx *bolt.Tx) error { return m.delEv(ctx, tx, bucketRetAssign, key(tenancy, repo)) })
}

// GetAssignment implements store.RetentionAssignments.
func (m *Metadata) GetAssignment(_ context.Context, tenancy, repo string) (store.Assignment, error) {
	var a store.Assignment
	return a, m.getRecord(bucketRetAssign, key(tenancy, repo), &a)
}

// ListAssignments implements store.RetentionAssignments.
func (m *Metadata) ListAssignments(_ context.Context, tenancy string) ([]store.Assignment, error) {
	return list[store.Assignment](m, bucketRetAssign, prefix(tenancy))
}

// GetImageStats implements store.PullStats.
func (m *Metadata) GetImageStats(_ context.Context, repo string, d digest.Digest) (store.ImageStats, error) {
	if err := m.pulls.flush(); err != nil {
		return store.ImageStats{}, err
	}
	s := store.ImageStats{Repo: repo, Digest: d}
	err := m.getRecord(bucketImageStats, key(repo, d.String()), &s)
	if errors.Is(err, store.ErrNotFound) {
		err = nil
	}
	return s, err
}

// ListImageStats implements store.PullStats.
func (m *Metadata) ListImageStats(_ context.Context, repo string, after digest.Digest, limit int) ([]store.ImageStats, error) {
	if err := m.pulls.flush(); err != nil {
		return nil, err
	}
	return listRepoRecords[store.ImageStats](m, bucketImageStats, repo, after.String(), limit)
}

// MarkImages implements store.PullStats.
func (m *Metadata) MarkImages(_ context.Context, repo string, marks []store.ImageMark) error {
	if err := m.pulls.flush(); err != nil {
		return err
	}
	return m.db.Update(func(tx *bolt.Tx) error {
		for _, mk := range marks {
			k := key(repo, mk.Digest.String())
			s := store.ImageStats{}
			if err := get(tx, bucketImageStats, k, &s); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			s.Repo, s.Digest, s.ImageMarks = repo, mk.Digest, mk.ImageMarks
			if err := put(tx, bucketImageStats, k, s); err != nil {
				return err
			}
		}
		return nil
	})
}

// DeleteImageStats implements store.PullStats.
func (m *Metadata) DeleteImageStats(_ context.Context, repo string, d digest.Digest) error {
	if err := m.pulls.flush(); err != nil {
		return err
	}
	return m.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketImageStats).Delete(key(repo, d.String())) })
}

// CreateRun implements store.RetentionRuns.
func (m *Metadata) CreateRun(_ context.Context, r store.RetentionRun) error {
	return m.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketRetRuns).Get(key(r.Tenancy, r.ID)) != nil {
			return store.ErrExists
		}
		return put(tx, bucketRetRuns, key(r.Tenancy, r.ID), r)
	})
}

// GetRun implements store.RetentionRuns.
func (m *Metadata) GetRun(_ context.Context, tenancy, id string) (store.RetentionRun, error) {
	var r store.RetentionRun
	return r, m.getRecord(bucketRetRuns, key(tenancy, id), &r)
}

// ListRuns implements store.RetentionRuns.
func (m *Metadata) ListRuns(_ context.Context, tenancy, before string, limit int) ([]store.RetentionRun, error) {
	var out []store.RetentionRun
	err := m.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketRetRuns).Cursor()
		p := prefix(tenancy)
		end := append(key(tenancy), 1) // just past the tenancy's keys
		if before != "" {
			end = key(tenancy, before)
		}
		var v []byte
		k, _ := c.Seek(end)
		if k == nil {
			k, v = c.Last()
		} else {
			k, v = c.Prev()
		}
		for ; k != nil && bytes.HasPrefix(k, p) && len(out) < limit; k, v = c.Prev() {
			var r store.RetentionRun
			if err := json.Unmarshal(v, &r); err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	return out, err
}

// PutRunRepo implements store.RetentionRuns.
func (m *Metadata) PutRunRepo(_ context.Context, r store.RunRepo) error {
	return m.putRecord(bucketRetRunRepos, key(r.Tenancy, r.RunID, r.Repo), r)
}

// ListRunRepos implements store.RetentionRuns.
func (m *Metadata) ListRunRepos(_ context.Context, tenancy, runID string) ([]store.RunRepo, error) {
	return list[store.RunRepo](m, bucketRetRunRepos, prefix(tenancy, runID))
}

// PutDecisions implements store.RetentionDecisions.
func (m *Metadata) PutDecisions(_ context.Context, ds []store.Decision) error {
	return m.db.Update(func(tx *bolt.Tx) error {
		for _, d := range ds {
			if err := put(tx, bucketRetDecisions, key(d.Tenancy, d.RunID, store.DecisionCursor(d)), d); err != nil {
				return err
			}
		}
		return nil
	})
}

// ListDecisions implements store.RetentionDecisions.
func (m *Metadata) ListDecisions(_ context.Context, tenancy, runID, after string, limit int) ([]store.Decision, error) {
	var out []store.Decision
	err := m.db.View(func(tx *bolt.Tx) error {
		p := prefix(tenancy, runID)
		c := tx.Bucket(bucketRetDecisions).Cursor()
		for k, v := c.Seek(key(tenancy, runID, after)); k != nil && bytes.HasPrefix(k, p) && len(out) < limit; k, v = c.Next() {
			if after != "" && string(k[len(p):]) == after {
				continue
			}
			var d store.Decision
			if err := json.Unmarshal(v, &d); err != nil {
				return err
			}
			out = append(out, d)
		}
		return nil
	})
	return out, err
}

// PutPin implements store.Pins.
func (m *Metadata) PutPin(_ context.Context, p store.Pin) error {
	return m.putRecord(bucketPins, key(p.Repo, p.Digest.String()), p)
}

// DeletePin implements store.Pins.
func (m *Metadata) DeletePin(_ context.Context, repo string, d digest.Digest) error {
	return m.delRecord(bucketPins, key(repo, d.String()))
}

// ListPins implements store.Pins.
func (m *Metadata) ListPins(_ context.Context, repo string) ([]store.Pin, error) {
	return list[store.Pin](m, bucketPins, prefix(repo))
}

// PutBinned implements store.RecycleBin.
func (m *Metadata) PutBinned(_ context.Context, b store.BinnedImage) error {
	return m.putRecord(bucketBin, key(b.Manifest.Repo, b.Manifest.Digest.String()), b)
}

// GetBinned implements store.RecycleBin.
func (m *Metadata) GetBinned(_ context.Context, repo string, d digest.Digest) (store.BinnedImage, error) {
	var b store.BinnedImage
	return b, m.getRecord(bucketBin, key(repo, d.String()), &b)
}

// ListBinned implements store.RecycleBin.
func (m *Metadata) ListBinned(_ context.Context, repo string, after digest.Digest, limit int) ([]store.BinnedImage, error) {
	return listRepoRecords[store.BinnedImage](m, bucketBin, repo, after.String(), limit)
}

// DeleteBinned implements store.RecycleBin.
func (m *Metadata) DeleteBinned(_ context.Context, repo string, d digest.Digest) error {
	return m.delRecord(bucketBin, key(repo, d.String()))
}

// DeleteTagIf implements store.RecycleBin.
func (m *Metadata) DeleteTagIf(_ context.Context, repo, name string, d digest.Digest) error {
	return m.db.Update(func(tx *bolt.Tx) error {
		var t store.Tag
		if err := get(tx, bucketTags, key(repo, name), &t); err != nil {
			return err
		}
		if t.Digest != d {
			return fmt.Errorf("tag %s:%s points at %s, not %s: %w", repo, name, t.Digest, d, store.ErrConflict)
		}
		return tx.Bucket(bucketTags).Delete(key(repo, name))
	})
}

// blobRecord is a blob record as stored: the record PutBlob writes with
// the collector's marks beside it (GetBlob ignores them).
type blobRecord struct {
	store.Blob
	Touched   time.Time `json:"touched,omitzero"`
	Condemned string    `json:"condemned,omitempty"`
}

func (b blobRecord) state() store.BlobState {
	return store.BlobState{Blob: b.Blob, Touched: b.Touched, Condemned: b.Condemned}
}

// TouchLink implements store.BlobTouches.
func (m *Metadata) TouchLink(_ context.Context, repo string, d digest.Digest) (store.Blob, error) {
	var l link
	err := m.db.Group(func(tx *bolt.Tx) error {
		l = link{} // Group may run this again
		k := key(repo, d.String())
		if err := get(tx, bucketLinks, k, &l); err != nil {
			return err
		}
		l.Touched = m.now().UTC()
		return put(tx, bucketLinks, k, l)
	})
	return l.Blob, err
}

// TouchBlob implements store.BlobTouches.
func (m *Metadata) TouchBlob(_ context.Context, d digest.Digest) (store.BlobState, error) {
	var b blobRecord
	err := m.db.Group(func(tx *bolt.Tx) error {
		b = blobRecord{} // Group may run this again
		if err := get(tx, bucketBlobs, []byte(d), &b); err != nil {
			return err
		}
		if b.Condemned != "" {
			return fmt.Errorf("blob %s is condemned by %s: %w", d, b.Condemned, store.ErrConflict)
		}
		b.Touched = m.now().UTC()
		return put(tx, bucketBlobs, []byte(d), b)
	})
	return b.state(), err
}

// ReplaceCondemnedBlob implements store.BlobTouches.
func (m *Metadata) ReplaceCondemnedBlob(_ context.Context, nb store.Blob, marker string) error {
	return m.db.Update(func(tx *bolt.Tx) error {
		var b blobRecord
		if err := get(tx, bucketBlobs, []byte(nb.Digest), &b); errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("blob %s is gone: %w", nb.Digest, store.ErrConflict)
		} else if err != nil {
			return err
		}
		if b.Condemned != marker {
			return fmt.Errorf("blob %s is condemned by %q, not %q: %w", nb.Digest, b.Condemned, marker, store.ErrConflict)
		}
		return put(tx, bucketBlobs, []byte(nb.Digest), blobRecord{Blob: nb, Touched: m.now().UTC()})
	})
}

// ListLinkStates implements store.LinkCollector.
func (m *Metadata) ListLinkStates(_ context.Context, repo string, after digest.Digest, limit int) ([]store.LinkState, error) {
	links, err := listRepoRecords[link](m, bucketLinks, repo, after.String(), limit)
	out := make([]store.LinkState, 0, len(links))
	for _, l := range links {
		out = append(out, store.LinkState{Blob: l.Blob, Touched: l.Touched})
	}
	return out, err
}

// DeleteStaleLink implements store.LinkCollector.
func (m *Metadata) DeleteStaleLink(_ context.Context, repo string, d digest.Digest, cutoff time.Time) error {
	return m.db.Update(func(tx *bolt.Tx) error {
		k := key(repo, d.String())
		var l link
		if err := get(tx, bucketLinks, k, &l); err != nil {
			return err
		}
		if !l.Touched.Before(cutoff) {
			return fmt.Errorf("link %s@%s touched at %s: %w", repo, d, l.Touched, store.ErrConflict)
		}
		return tx.Bucket(bucketLinks).Delete(k)
	})
}

// ListBlobStates implements store.BlobCollector.
func (m *Metadata) ListBlobStates(_ context.Context, after digest.Digest, limit int) ([]store.BlobState, error) {
	var out []store.BlobState
	err := m.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketBlobs).Cursor()
		for k, v := c.Seek([]byte(after)); k != nil && len(out) < limit; k, v = c.Next() {
			if after != "" && string(k) == after.String() {
				continue
			}
			var b blobRecord
			if err := json.Unmarshal(v, &b); err != nil {
				return err
			}
			out = append(out, b.state())
		}
		return nil
	})
	return out, err
}

// CondemnBlob implements store.BlobCollector.
func (m *Metadata) CondemnBlob(_ context.Context, d digest.Digest, marker string, cutoff time.Time) error {
	return m.db.Update(func(tx *bolt.Tx) error {
		var b blobRecord
		if err := get(tx, bucketBlobs, []byte(d), &b); err != nil {
			return err
		}
		if b.Condemned != "" || b.Touched.IsZero() || !b.Touched.Before(cutoff) {
			return fmt.Errorf("blob %s (touched %s, condemned %q): %w", d, b.Touched, b.Condemned, store.ErrConflict)
		}
		b.Condemned = marker
		return put(tx, bucketBlobs, []byte(d), b)
	})
}

// DeleteCondemnedBlob implements store.BlobCollector.
func (m *Metadata) DeleteCondemnedBlob(_ context.Context, d digest.Digest, marker string) error {
	return m.db.Update(func(tx *bolt.Tx) error {
		var b blobRecord
		if err := get(tx, bucketBlobs, []byte(d), &b); err != nil {
			return err
		}
		if b.Condemned == "" || b.Condemned != marker {
			return fmt.Errorf("blob %s is condemned by %q, not %q: %w", d, b.Condemned, marker, store.ErrConflict)
		}
		return tx.Bucket(bucketBlobs).Delete([]byte(d))
	})
}
