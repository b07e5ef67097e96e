package local

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/berth-registry/berth/shared/store"
)

// bucketOutbox holds committed events (store.Outbox) under an 8-byte
// big-endian sequence number, so a cursor reads them oldest first.
var bucketOutbox = []byte("outbox")

var _ store.Outbox = (*Metadata)(nil)

// EnableOutbox makes the writes that carry an event (store.WithEvent)
// queue it in the outbox, in the write's own transaction, for
// store.Outbox's reader. Off by default: with no webhook to deliver to,
// nothing would drain it.
func (m *Metadata) EnableOutbox() { m.outbox = true }

// outboxEntry is an outbox record: the event JSON and the record the
// write replaced (store.Committed).
type outboxEntry struct {
	Events   json.RawMessage `json:"events"`
	Previous json.RawMessage `json:"previous,omitempty"`
}

// queue appends the event ctx carries, if any, to the outbox within tx;
// prev is the record's JSON before the write (nil: none).
func (m *Metadata) queue(ctx context.Context, tx *bolt.Tx, prev []byte) error {
	ev := store.EventFrom(ctx)
	if !m.outbox || ev == nil {
		return nil
	}
	b := tx.Bucket(bucketOutbox)
	n, err := b.NextSequence()
	if err != nil {
		return err
	}
	raw, err := json.Marshal(outboxEntry{Events: json.RawMessage(ev), Previous: prev})
	if err != nil {
		return err
	}
	return b.Put(binary.BigEndian.AppendUint64(nil, n), raw)
}

// putEv is put that queues the event ctx carries with the record it
// replaces.
func (m *Metadata) putEv(ctx context.Context, tx *bolt.Tx, bucket, k []byte, v any) error {
	prev := bytes.Clone(tx.Bucket(bucket).Get(k))
	if err := put(tx, bucket, k, v); err != nil {
		return err
	}
	return m.queue(ctx, tx, prev)
}

// delEv is del that queues the event ctx carries with the record it
// removes.
func (m *Metadata) delEv(ctx context.Context, tx *bolt.Tx, bucket, k []byte) error {
	prev := bytes.Clone(tx.Bucket(bucket).Get(k))
	if err := del(tx, bucket, k); err != nil {
		return err
	}
	return m.queue(ctx, tx, prev)
}

// PendingEvents implements store.Outbox.
func (m *Metadata) PendingEvents(_ context.Context, limit int) ([]store.Committed, error) {
	var out []store.Committed
	err := m.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketOutbox).Cursor()
		for k, v := c.First(); k != nil && len(out) < limit; k, v = c.Next() {
			var e outboxEntry
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("outbox entry %x: %w", k, err)
			}
			out = append(out, store.Committed{Seq: hex.EncodeToString(k), Events: e.Events, Previous: e.Previous})
		}
		return nil
	})
	return out, err
}

// AckEvent implements store.Outbox.
func (m *Metadata) AckEvent(_ context.Context, seq string) error {
	k, err := hex.DecodeString(seq)
	if err != nil || len(k) != 8 {
		return fmt.Errorf("outbox sequence %q: %w", seq, store.ErrInvalid)
	}
	return m.db.Update(func(tx *bolt.Tx) error { return tx.Bucket(bucketOutbox).Delete(k) })
}
