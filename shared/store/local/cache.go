package local

import (
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

// Batch is Update for bbolt's batched writes.
func (c *cachedDB) Batch(fn func(*bolt.Tx) error) error {
	err := c.DB.Batch(fn)
	c.mu.Lock()
	c.gen++
	clear(c.entries)
	c.mu.Unlock()
	return err
}

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
