package local

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/berth-registry/berth/shared/store"
)

// bucketRunCounted marks the repository jobs CountRunRepo has counted,
// by tenancy, run and repository.
var bucketRunCounted = []byte("retention-run-counted")

// CountRunRepo implements store.RunProgress in one transaction.
func (m *Metadata) CountRunRepo(_ context.Context, tenancy, runID, repo string) (store.RetentionRun, bool, error) {
	var run store.RetentionRun
	first := false
	err := m.db.Update(func(tx *bolt.Tx) error {
		if err := get(tx, bucketRetRuns, key(tenancy, runID), &run); err != nil {
			return fmt.Errorf("run %s: %w", runID, err)
		}
		k := key(tenancy, runID, repo)
		if tx.Bucket(bucketRetRunRepos).Get(k) == nil {
			return fmt.Errorf("outcome of %s in run %s: %w", repo, runID, store.ErrNotFound)
		}
		counted := tx.Bucket(bucketRunCounted)
		if counted.Get(k) != nil {
			return nil
		}
		first = true
		run.Done++
		if err := counted.Put(k, []byte{1}); err != nil {
			return err
		}
		return put(tx, bucketRetRuns, key(tenancy, runID), run)
	})
	return run, first, err
}

// FinishRun implements store.RunProgress; it carries an event.
func (m *Metadata) FinishRun(ctx context.Context, r store.RetentionRun) error {
	return m.db.Update(func(tx *bolt.Tx) error {
		var cur store.RetentionRun
		if err := get(tx, bucketRetRuns, key(r.Tenancy, r.ID), &cur); err != nil {
			return fmt.Errorf("run %s: %w", r.ID, err)
		}
		if !cur.Finished.IsZero() {
			return fmt.Errorf("run %s finished already: %w", r.ID, store.ErrConflict)
		}
		cur.Finished, cur.Summary = r.Finished, r.Summary
		return m.putEv(ctx, tx, bucketRetRuns, key(r.Tenancy, r.ID), cur)
	})
}
