package dynamo

import (
	"context"

	"github.com/berth-registry/berth/shared/store"
)

// skRoleMapping prefixes an AWS role mapping's sort key in its
// tenancy's partition, so a tenancy's mappings are one Query.
const skRoleMapping = "IAM#"

// PutRoleMapping implements store.RoleMappings.
func (t *Table) PutRoleMapping(ctx context.Context, m store.RoleMapping) error {
	return t.put(ctx, tenancyPK(m.Tenancy), skRoleMapping+m.Name, m)
}

// CreateRoleMapping implements store.RoleMappings.
func (t *Table) CreateRoleMapping(ctx context.Context, m store.RoleMapping) error {
	return t.create(ctx, tenancyPK(m.Tenancy), skRoleMapping+m.Name, m)
}

// GetRoleMapping implements store.RoleMappings.
func (t *Table) GetRoleMapping(ctx context.Context, tenancy, name string) (store.RoleMapping, error) {
	var m store.RoleMapping
	return m, t.get(ctx, tenancyPK(tenancy), skRoleMapping+name, &m)
}

// ListRoleMappings implements store.RoleMappings.
func (t *Table) ListRoleMappings(ctx context.Context, tenancy string) ([]store.RoleMapping, error) {
	return listAll[store.RoleMapping](ctx, t, tenancyPK(tenancy), skRoleMapping)
}

// DeleteRoleMapping implements store.RoleMappings.
func (t *Table) DeleteRoleMapping(ctx context.Context, tenancy, name string) error {
	_, err := t.del(ctx, tenancyPK(tenancy), skRoleMapping+name)
	return err
}
