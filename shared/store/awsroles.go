package store

import (
	"context"
	"time"
)

// RoleMapping lets a tenancy trust AWS IAM roles: a caller whose signed
// sts:GetCallerIdentity request proves it acts as a role the mapping
// names logs in as "<tenancy>/aws" acting as the mapping's group
// (docs/auth.md, "AWS IAM logins").
type RoleMapping struct {
	Tenancy string `json:"tenancy"`
	Name    string `json:"name"`
	// Role is a role ARN, arn:<partition>:iam::<account>:role/<name>,
	// exact or with '*' globs in the name; the account is always
	// literal.
	Role string `json:"role"`
	// Group is the tenancy group whose policies apply to the login.
	Group string `json:"group"`
	// MaxLifetimeSeconds bounds the registry tokens issued under the
	// mapping (the registry's own lifetime bounds them too).
	MaxLifetimeSeconds int       `json:"maxLifetimeSeconds"`
	Updated            time.Time `json:"updated,omitzero"`
}

// RoleMappings holds a tenancy's AWS role mappings.
type RoleMappings interface {
	// PutRoleMapping creates or replaces a mapping.
	PutRoleMapping(ctx context.Context, m RoleMapping) error
	// CreateRoleMapping creates a mapping, in one conditional write:
	// ErrExists if the tenancy has one of that name.
	CreateRoleMapping(ctx context.Context, m RoleMapping) error
	// GetRoleMapping returns a mapping or ErrNotFound.
	GetRoleMapping(ctx context.Context, tenancy, name string) (RoleMapping, error)
	// ListRoleMappings returns a tenancy's mappings by name.
	ListRoleMappings(ctx context.Context, tenancy string) ([]RoleMapping, error)
	// DeleteRoleMapping removes a mapping; ErrNotFound if absent.
	DeleteRoleMapping(ctx context.Context, tenancy, name string) error
}
