package local

import (
	"bytes"
	"context"
	"encoding/json"

	bolt "go.etcd.io/bbolt"

	"github.com/berth-registry/berth/shared/store"
)

var (
	bucketTenancies = []byte("tenancies")
	bucketUsers     = []byte("users")
	bucketGroups    = []byte("groups")
	bucketTokens    = []byte("tokens")
	bucketPolicies  = []byte("policies")
	bucketAudit     = []byte("audit")
)

var identityBuckets = [][]byte{bucketTenancies, bucketUsers, bucketGroups, bucketTokens, bucketPolicies, bucketFederation, bucketRoleMappings, bucketAudit}

var _ store.Identity = (*Metadata)(nil)

// list decodes every record under a key prefix, in key order.
func list[T any](m *Metadata, bucket, prefix []byte) ([]T, error) {
	var out []T
	err := m.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucket).Cursor()
		for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
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

func (m *Metadata) putRecord(bucket, k []byte, v any) error {
	return m.db.Update(func(tx *bolt.Tx) error { return put(tx, bucket, k, v) })
}

func (m *Metadata) getRecord(bucket, k []byte, v any) error {
	return m.db.View(func(tx *bolt.Tx) error { return get(tx, bucket, k, v) })
}

func (m *Metadata) delRecord(bucket, k []byte) error {
	return m.db.Update(func(tx *bolt.Tx) error { return del(tx, bucket, k) })
}

// prefix is a key prefix for everything under the given parts.
func prefix(parts ...string) []byte { return append(key(parts...), 0) }

// CreateTenancy implements store.Tenancies.
func (m *Metadata) CreateTenancy(_ context.Context, t store.Tenancy) error {
	return m.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketTenancies).Get([]byte(t.Name)) != nil {
			return store.ErrExists
		}
		return put(tx, bucketTenancies, []byte(t.Name), t)
	})
}

// GetTenancy implements store.Tenancies.
func (m *Metadata) GetTenancy(_ context.Context, name string) (store.Tenancy, error) {
	var t store.Tenancy
	return t, m.getRecord(bucketTenancies, []byte(name), &t)
}

// ListTenancies implements store.Tenancies.
func (m *Metadata) ListTenancies(context.Context) ([]store.Tenancy, error) {
	return list[store.Tenancy](m, bucketTenancies, nil)
}

// PutUser implements store.Users.
func (m *Metadata) PutUser(_ context.Context, u store.User) error {
	return m.putRecord(bucketUsers, key(u.Tenancy, u.Name), u)
}

// GetUser implements store.Users.
func (m *Metadata) GetUser(_ context.Context, tenancy, name string) (store.User, error) {
	var u store.User
	return u, m.getRecord(bucketUsers, key(tenancy, name), &u)
}

// ListUsers implements store.Users.
func (m *Metadata) ListUsers(_ context.Context, tenancy string) ([]store.User, error) {
	return list[store.User](m, bucketUsers, prefix(tenancy))
}

// DeleteUser implements store.Users.
func (m *Metadata) DeleteUser(_ context.Context, tenancy, name string) error {
	return m.delRecord(bucketUsers, key(tenancy, name))
}

// PutGroup implements store.Groups.
func (m *Metadata) PutGroup(_ context.Context, g store.Group) error {
	return m.putRecord(bucketGroups, key(g.Tenancy, g.Name), g)
}

// GetGroup implements store.Groups.
func (m *Metadata) GetGroup(_ context.Context, tenancy, name string) (store.Group, error) {
	var g store.Group
	return g, m.getRecord(bucketGroups, key(tenancy, name), &g)
}

// ListGroups implements store.Groups.
func (m *Metadata) ListGroups(_ context.Context, tenancy string) ([]store.Group, error) {
	return list[store.Group](m, bucketGroups, prefix(tenancy))
}

// DeleteGroup implements store.Groups.
func (m *Metadata) DeleteGroup(_ context.Context, tenancy, name string) error {
	return m.delRecord(bucketGroups, key(tenancy, name))
}

// PutToken implements store.Tokens.
func (m *Metadata) PutToken(_ context.Context, t store.AuthToken) error {
	return m.putRecord(bucketTokens, key(t.Tenancy, t.User, t.ID), t)
}

// GetToken implements store.Tokens.
func (m *Metadata) GetToken(_ context.Context, tenancy, user, id string) (store.AuthToken, error) {
	var t store.AuthToken
	return t, m.getRecord(bucketTokens, key(tenancy, user, id), &t)
}

// ListTokens implements store.Tokens.
func (m *Metadata) ListTokens(_ context.Context, tenancy, user string) ([]store.AuthToken, error) {
	return list[store.AuthToken](m, bucketTokens, prefix(tenancy, user))
}

// PutPolicy implements store.Policies; it carries an event.
func (m *Metadata) PutPolicy(ctx context.Context, p store.Policy) error {
	return m.db.Update(func(tx *bolt.Tx) error { return m.putEv(ctx, tx, bucketPolicies, key(p.Tenancy, p.Name), p) })
}

// GetPolicy implements store.Policies.
func (m *Metadata) GetPolicy(_ context.Context, tenancy, name string) (store.Policy, error) {
	var p store.Policy
	return p, m.getRecord(bucketPolicies, key(tenancy, name), &p)
}

// ListPolicies implements store.Policies.
func (m *Metadata) ListPolicies(_ context.Context, tenancy string) ([]store.Policy, error) {
	return list[store.Policy](m, bucketPolicies, prefix(tenancy))
}

// DeletePolicy implements store.Policies; it carries an event.
func (m *Metadata) DeletePolicy(ctx context.Context, tenancy, name string) error {
	return m.db.Update(func(tx *bolt.Tx) error { return m.delEv(ctx, tx, bucketPolicies, key(tenancy, name)) })
}

// AppendAudit implements store.Audit. Event IDs sort by time (the
// caller makes them so), which orders the trail.
func (m *Metadata) AppendAudit(_ context.Context, e store.AuditEvent) error {
	return m.putRecord(bucketAudit, key(e.Tenancy, e.ID), e)
}

// ListAudit implements store.Audit.
func (m *Metadata) ListAudit(_ context.Context, tenancy, before string, limit int) ([]store.AuditEvent, error) {
	var out []store.AuditEvent
	err := m.db.View(func(tx *bolt.Tx) error {
		c := tx.Bucket(bucketAudit).Cursor()
		p := prefix(tenancy)
		var k, v []byte
		if before == "" {
			// Seek past the tenancy's last key, then step back.
			end := key(tenancy)
			end = append(end, 1)
			k, _ = c.Seek(end)
			if k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		} else {
			k, _ = c.Seek(key(tenancy, before))
			if k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
		}
		for ; k != nil && bytes.HasPrefix(k, p) && len(out) < limit; k, v = c.Prev() {
			var e store.AuditEvent
			if err := json.Unmarshal(v, &e); err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	return out, err
}
