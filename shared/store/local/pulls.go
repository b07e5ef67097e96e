package local

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	bolt "go.etcd.io/bbolt"

	"github.com/berth-registry/berth/shared/store"
)

// pullFlushEvery is how often buffered pull counts reach the file.
const pullFlushEvery = time.Second

// pullBuffer batches pull statistics. A manifest GET records a pull, and
// a bbolt write is a transaction with an fsync that every other write
// waits behind: one per pull would cap pulls at the disk's sync rate
// (measured: manifest GETs fell to a tenth of HEADs). Pulls are counted
// in memory and written together once a second, and before anything
// reads or rewrites the statistics, so every reader sees every counted
// pull. A crash loses at most the last second's counts — statistics,
// never content.
type pullBuffer struct {
	m       *Metadata
	mu      sync.Mutex // held while reading through or flushing
	pending map[string]*pendingPull
	done    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
}

type pendingPull struct {
	repo string
	d    digest.Digest
	n    int64
	last time.Time
}

func newPullBuffer(m *Metadata) *pullBuffer {
	b := &pullBuffer{m: m, pending: map[string]*pendingPull{}, done: make(chan struct{})}
	b.wg.Add(1)
	go b.loop()
	return b
}

func (b *pullBuffer) loop() {
	defer b.wg.Done()
	t := time.NewTicker(pullFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			_ = b.flush()
		case <-b.done:
			return
		}
	}
}

// stop ends the loop and writes what is pending (once; Close may be
// called again).
func (b *pullBuffer) stop() error {
	var err error
	b.once.Do(func() {
		close(b.done)
		b.wg.Wait()
		err = b.flush()
	})
	return err
}

// flush writes every pending count, merging with the stored record (its
// marks stay).
func (b *pullBuffer) flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.pending) == 0 {
		return nil
	}
	err := b.m.db.Update(func(tx *bolt.Tx) error {
		for k, p := range b.pending {
			var s store.ImageStats
			if err := get(tx, bucketImageStats, []byte(k), &s); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			s.Repo, s.Digest = p.repo, p.d
			s.Pulls += p.n
			if p.last.After(s.LastPulled) {
				s.LastPulled = p.last
			}
			if err := put(tx, bucketImageStats, []byte(k), s); err != nil {
				return err
			}
		}
		return nil
	})
	if err == nil {
		b.pending = map[string]*pendingPull{}
	}
	return err
}

// RecordPull implements store.PullStats: the count is buffered (see
// pullBuffer); the statistics returned include it.
func (m *Metadata) RecordPull(_ context.Context, repo string, d digest.Digest, at time.Time) (store.ImageStats, error) {
	b := m.pulls
	b.mu.Lock()
	defer b.mu.Unlock()
	k := string(key(repo, d.String()))
	s, err := cachedGet[store.ImageStats](m, bucketImageStats, []byte(k))
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return s, err
	}
	p := b.pending[k]
	if p == nil {
		p = &pendingPull{repo: repo, d: d}
		b.pending[k] = p
	}
	p.n++
	if at = at.UTC(); at.After(p.last) {
		p.last = at
	}
	s.Repo, s.Digest = repo, d
	s.Pulls += p.n
	if p.last.After(s.LastPulled) {
		s.LastPulled = p.last
	}
	return s, nil
}
