package local

import (
	"errors"
	"sync"

	bolt "go.etcd.io/bbolt"
)

// cachedDB is the bbolt file with a read-through cache of decoded
// records for the pull path (tags, manifests, links, repositories).
// Decoding a record's JSON costs more than the rest of a manifest HEAD;
// the process holds the file's lock, so every write goes through here,
// and a committed write empties the cache. A read caches what it decoded
// only if no write committed since it began (the generation check), so
// the cache never holds a value older than the file.
type cachedDB struct {
	*bolt.DB
	mu      sync.Mutex
	gen     uint64
	entries map[string]any
	// gmu guards queue and committing, Group's state.
	gmu        sync.Mutex
	queue      []*groupWrite
	committing bool
}

// maxCached bounds the cache; past it, it starts over.
const maxCached = 50000

func newCachedDB(db *bolt.DB) *cachedDB {
	return &cachedDB{DB: db, entries: map[string]any{}}
}

// Update runs a read-write transaction and then invalidates the cache.
func (c *cachedDB) Update(fn func(*bolt.Tx) error) error {
	err := c.DB.Update(fn)
	c.mu.Lock()
	c.gen++
	clear(c.entries)
	c.mu.Unlock()
	return err
}

// Group is Update for a write that may share its transaction, and so
// its fsync, with writes made at the same time (group commit): the first
// writer commits at once, alone; writers that arrive while it commits
// wait, and the first of them commits them all together when it is
// done. A lone writer waits for nothing (bbolt's own Batch waits up to
// 10 ms for company), and concurrent pushes share their fsyncs.
//
// fn must be safe to run more than once and change nothing outside tx,
// as with bbolt's Batch: when one write of a group fails, the group's
// transaction is rolled back and each of its writes run again alone, in
// order, each answering with its own outcome. The writes of a group are
// applied one after another, in arrival order, as Update would apply
// them.
func (c *cachedDB) Group(fn func(*bolt.Tx) error) error {
	w := &groupWrite{fn: fn, done: make(chan groupResult, 1)}
	c.gmu.Lock()
	c.queue = append(c.queue, w)
	lead := !c.committing
	c.committing = true
	c.gmu.Unlock()
	if !lead {
		if r := <-w.done; !r.lead {
			return r.err
		}
	}
	c.gmu.Lock()
	group := c.queue
	c.queue = nil
	c.gmu.Unlock()
	defer c.handOff() // also if a write panics: the next group must not wait forever
	c.commitGroup(group)
	return (<-w.done).err
}

// handOff ends a group's commit: the first writer waiting commits the
// next group, or there is none.
func (c *cachedDB) handOff() {
	c.gmu.Lock()
	defer c.gmu.Unlock()
	if len(c.queue) > 0 {
		c.queue[0].done <- groupResult{lead: true}
	} else {
		c.committing = false
	}
}

// groupWrite is one write waiting in Group.
type groupWrite struct {
	fn   func(*bolt.Tx) error
	done chan groupResult
}

// groupResult is a write's outcome, or (lead) the word that its writer
// commits the next group.
type groupResult struct {
	err  error
	lead bool
}

// errGroupMember marks the failure of one write of a group.
var errGroupMember = errors.New("a write of the group failed")

// commitGroup commits writes in one transaction and tells each writer
// its outcome; if one fails, each runs again alone.
func (c *cachedDB) commitGroup(group []*groupWrite) {
	answered := 0
	defer func() {
		// A write panicked: the writers not yet answered must not wait
		// forever (the panic goes on up the leader's stack).
		for _, w := range group[answered:] {
			w.done <- groupResult{err: errWritePanicked}
		}
	}()
	var err error
	if len(group) == 1 {
		err = c.Update(group[0].fn)
	} else {
		err = c.Update(func(tx *bolt.Tx) error {
			for _, w := range group {
				if err := w.fn(tx); err != nil {
					return errGroupMember
				}
			}
			return nil
		})
	}
	for _, w := range group {
		r := groupResult{err: err}
		if errors.Is(err, errGroupMember) {
			r.err = c.Update(w.fn)
		}
		w.done <- r
		answered++
	}
}

// errWritePanicked answers the writers of a group in which a write
// panicked.
var errWritePanicked = errors.New("another write of the same transaction panicked")

// cachedGet reads a record through the cache.
func cachedGet[T any](m *Metadata, bucket, k []byte) (T, error) {
	ck := string(bucket) + "\x01" + string(k)
	c := m.db
	c.mu.Lock()
	if v, ok := c.entries[ck]; ok {
		c.mu.Unlock()
		return v.(T), nil
	}
	gen := c.gen
	c.mu.Unlock()
	var v T
	err := c.View(func(tx *bolt.Tx) error { return get(tx, bucket, k, &v) })
	if err != nil {
		return v, err
	}
	c.mu.Lock()
	if c.gen == gen {
		if len(c.entries) >= maxCached {
			clear(c.entries)
		}
		c.entries[ck] = v
	}
	c.mu.Unlock()
	return v, nil
}
