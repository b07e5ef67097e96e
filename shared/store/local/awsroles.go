package local

import (
	"context"

	bolt "go.etcd.io/bbolt"

	"github.com/berth-registry/berth/shared/store"
)

// bucketRoleMappings holds AWS role mappings under <tenancy>\0<name>.
var bucketRoleMappings = []byte("awsroles")

// PutRoleMapping implements store.RoleMappings.
func (m *Metadata) PutRoleMapping(_ context.Context, r store.RoleMapping) error {
	return m.putRecord(bucketRoleMappings, key(r.Tenancy, r.Name), r)
}

// CreateRoleMapping implements store.RoleMappings.
func (m *Metadata) CreateRoleMapping(_ context.Context, r store.RoleMapping) error {
	k := key(r.Tenancy, r.Name)
	return m.db.Update(func(tx *bolt.Tx) error {
		if tx.Bucket(bucketRoleMappings).Get(k) != nil {
			return store.ErrExists
		}
		return put(tx, bucketRoleMappings, k, r)
	})
}

// GetRoleMapping implements store.RoleMappings.
func (m *Metadata) GetRoleMapping(_ context.Context, tenancy, name string) (store.RoleMapping, error) {
	var r store.RoleMapping
	return r, m.getRecord(bucketRoleMappings, key(tenancy, name), &r)
}

// ListRoleMappings implements store.RoleMappings.
func (m *Metadata) ListRoleMappings(_ context.Context, tenancy string) ([]store.RoleMapping, error) {
	return list[store.RoleMapping](m, bucketRoleMappings, prefix(tenancy))
}

// DeleteRoleMapping implements store.RoleMappings.
func (m *Metadata) DeleteRoleMapping(_ context.Context, tenancy, name string) error {
	return m.delRecord(bucketRoleMappings, key(tenancy, name))
}
