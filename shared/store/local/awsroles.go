package local

import (
	"context"

	"github.com/berth-registry/berth/shared/store"
)

// bucketRoleMappings holds AWS role mappings under <tenancy>\0<name>.
var bucketRoleMappings = []byte("awsroles")

// PutRoleMapping implements store.RoleMappings.
func (m *Metadata) PutRoleMapping(_ context.Context, r store.RoleMapping) error {
	return m.putRecord(bucketRoleMappings, key(r.Tenancy, r.Name), r)
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
