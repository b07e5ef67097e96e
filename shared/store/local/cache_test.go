package local

import (
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

func openCached(t *testing.T) *cachedDB {
	t.Helper()
	db, err := bolt.Open(filepath.Join(t.TempDir(), "g.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("b")); return err }); err != nil {
		t.Fatal(err)
	}
	return newCachedDB(db)
}

// TestGroupSharesCommitsAndKeepsEachOutcome: concurrent writes share
// transactions; a write that fails answers its own error and leaves
// nothing, while the writes grouped with it are committed.
func TestGroupSharesCommitsAndKeepsEachOutcome(t *testing.T) {
	c := openCached(t)
	errOdd := errors.New("refused")
	const n = 64
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			errs[i] = c.Group(func(tx *bolt.Tx) error {
				k := fmt.Appendf(nil, "k%02d", i)
				if err := tx.Bucket([]byte("b")).Put(k, []byte("v")); err != nil {
					return err
				}
				if i%7 == 3 {
					return errOdd // after its write: the rollback must undo it
				}
				time.Sleep(100 * time.Microsecond) // a slow write: the others queue
				return nil
			})
		})
	}
	wg.Wait()
	err := c.View(func(tx *bolt.Tx) error {
		for i := range n {
			got := tx.Bucket([]byte("b")).Get(fmt.Appendf(nil, "k%02d", i)) != nil
			if fails := i%7 == 3; got == fails || !errors.Is(errs[i], errOdd) != !fails {
				t.Errorf("write %d: stored %v, error %v", i, got, errs[i])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestGroupCommitsConcurrentWritesTogether: writes made while another
// commits share a transaction (and its fsync).
func TestGroupCommitsConcurrentWritesTogether(t *testing.T) {
	c := openCached(t)
	const n = 64
	var mu sync.Mutex
	txs := map[*bolt.Tx]bool{}
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			err := c.Group(func(tx *bolt.Tx) error {
				mu.Lock()
				txs[tx] = true
				mu.Unlock()
				time.Sleep(time.Millisecond) // a slow write: the others queue
				return tx.Bucket([]byte("b")).Put(fmt.Appendf(nil, "k%02d", i), []byte("v"))
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if len(txs) > n/2 {
		t.Errorf("%d concurrent writes took %d transactions", n, len(txs))
	}
}

// TestGroupSurvivesAPanickingWrite: a write that panics fails its group
// and does not leave later writers waiting forever.
func TestGroupSurvivesAPanickingWrite(t *testing.T) {
	c := openCached(t)
	func() {
		defer func() { _ = recover() }()
		_ = c.Group(func(*bolt.Tx) error { panic("boom") })
	}()
	done := make(chan error, 1)
	go func() {
		done <- c.Group(func(tx *bolt.Tx) error { return tx.Bucket([]byte("b")).Put([]byte("k"), []byte("v")) })
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("write after a panic: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a write after a panicking one never committed")
	}
}
