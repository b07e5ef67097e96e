package local

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/berth-registry/berth/shared/store"
)

// bucketRefusals counts refused logins by tenancy and window start.
var bucketRefusals = []byte("login-refusals")

var _ store.LoginRefusals = (*Metadata)(nil)

type refusals struct {
	Count   int       `json:"count"`
	Alerted bool      `json:"alerted,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
}

func refusalKey(tenancy string, start time.Time) []byte {
	return key(tenancy, strconv.FormatInt(start.Unix(), 10))
}

// CountRefusal implements store.LoginRefusals; windows past their
// expiry are dropped as new ones are counted.
func (m *Metadata) CountRefusal(_ context.Context, tenancy string, start, expires time.Time) (int, error) {
	var r refusals
	err := m.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRefusals)
		k := refusalKey(tenancy, start)
		if err := get(tx, bucketRefusals, k, &r); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if r.Count == 0 {
			// A new window: forget the expired ones.
			now := m.now()
			c := b.Cursor()
			for ok, v := c.First(); ok != nil; ok, v = c.Next() {
				var old refusals
				if json.Unmarshal(v, &old) == nil && now.After(old.Expires) {
					if err := c.Delete(); err != nil {
						return err
					}
				}
			}
		}
		r.Count++
		r.Expires = expires
		return put(tx, bucketRefusals, k, r)
	})
	return r.Count, err
}

// MarkRefusalAlert implements store.LoginRefusals; it carries an event.
func (m *Metadata) MarkRefusalAlert(ctx context.Context, tenancy string, start time.Time) error {
	return m.db.Update(func(tx *bolt.Tx) error {
		k := refusalKey(tenancy, start)
		var r refusals
		if err := get(tx, bucketRefusals, k, &r); err != nil {
			return err
		}
		if r.Alerted {
			return store.ErrExists
		}
		r.Alerted = true
		return m.putEv(ctx, tx, bucketRefusals, k, r)
	})
}
