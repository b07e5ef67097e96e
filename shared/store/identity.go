package store

import (
	"context"
	"time"
)

// Tenancy is a namespace: the first path segment of its repositories.
type Tenancy struct {
	Name    string    `json:"name"`
	Created time.Time `json:"created,omitzero"`
}

// User is a person or robot in a tenancy; it logs in as
// "<tenancy>/<name>" with an auth token.
type User struct {
	Tenancy string    `json:"tenancy"`
	Name    string    `json:"name"`
	Groups  []string  `json:"groups,omitempty"`
	Created time.Time `json:"created,omitzero"`
}

// Group is a named set of users that policy statements grant to.
// Membership is kept on the user (User.Groups), so deciding a request
// reads one user record.
type Group struct {
	Tenancy     string    `json:"tenancy"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Created     time.Time `json:"created,omitzero"`
}

// AuthToken is a user's password for docker login: only its hash is
// stored; the secret is shown once, when created.
type AuthToken struct {
	Tenancy     string    `json:"tenancy"`
	User        string    `json:"user"`
	ID          string    `json:"id"`
	Description string    `json:"description,omitempty"`
	Hash        []byte    `json:"hash"`
	Created     time.Time `json:"created,omitzero"`
	Expires     time.Time `json:"expires,omitzero"`
	Revoked     bool      `json:"revoked,omitempty"`
}

// Policy is a named list of OCIR-style statements in a tenancy.
type Policy struct {
	Tenancy    string    `json:"tenancy"`
	Name       string    `json:"name"`
	Statements []string  `json:"statements"`
	Updated    time.Time `json:"updated,omitzero"`
}

// AuditEvent records something that happened: a login, a token or policy
// change, a repository created or deleted, a push or delete.
type AuditEvent struct {
	Tenancy   string    `json:"tenancy"`
	Time      time.Time `json:"time,omitzero"`
	ID        string    `json:"id"`
	Principal string    `json:"principal"`
	Action    string    `json:"action"`
	Target    string    `json:"target,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// Tenancies holds tenancies.
type Tenancies interface {
	// CreateTenancy stores a new tenancy; ErrExists if the name is taken.
	CreateTenancy(ctx context.Context, t Tenancy) error
	// GetTenancy returns a tenancy or ErrNotFound.
	GetTenancy(ctx context.Context, name string) (Tenancy, error)
	// ListTenancies returns every tenancy by name.
	ListTenancies(ctx context.Context) ([]Tenancy, error)
}

// Users holds users.
type Users interface {
	// PutUser creates or replaces a user.
	PutUser(ctx context.Context, u User) error
	// GetUser returns a user or ErrNotFound.
	GetUser(ctx context.Context, tenancy, name string) (User, error)
	// ListUsers returns a tenancy's users by name.
	ListUsers(ctx context.Context, tenancy string) ([]User, error)
	// DeleteUser removes a user (and not its tokens: callers revoke
	// them); ErrNotFound if absent.
	DeleteUser(ctx context.Context, tenancy, name string) error
}

// Groups holds groups.
type Groups interface {
	// PutGroup creates or replaces a group.
	PutGroup(ctx context.Context, g Group) error
	// GetGroup returns a group or ErrNotFound.
	GetGroup(ctx context.Context, tenancy, name string) (Group, error)
	// ListGroups returns a tenancy's groups by name.
	ListGroups(ctx context.Context, tenancy string) ([]Group, error)
	// DeleteGroup removes a group; ErrNotFound if absent.
	DeleteGroup(ctx context.Context, tenancy, name string) error
}

// Tokens holds auth tokens.
type Tokens interface {
	// PutToken creates or replaces a token (revocation is a put).
	PutToken(ctx context.Context, t AuthToken) error
	// GetToken returns a token or ErrNotFound.
	GetToken(ctx context.Context, tenancy, user, id string) (AuthToken, error)
	// ListTokens returns a user's tokens, revoked and expired included.
	ListTokens(ctx context.Context, tenancy, user string) ([]AuthToken, error)
}

// Policies holds policies.
type Policies interface {
	// PutPolicy creates or replaces a policy.
	PutPolicy(ctx context.Context, p Policy) error
	// GetPolicy returns a policy or ErrNotFound.
	GetPolicy(ctx context.Context, tenancy, name string) (Policy, error)
	// ListPolicies returns a tenancy's policies by name.
	ListPolicies(ctx context.Context, tenancy string) ([]Policy, error)
	// DeletePolicy removes a policy; ErrNotFound if absent.
	DeletePolicy(ctx context.Context, tenancy, name string) error
}

// Audit holds the audit trail.
type Audit interface {
	// AppendAudit records an event (ID and Time set by the caller).
	AppendAudit(ctx context.Context, e AuditEvent) error
	// ListAudit returns up to limit events of a tenancy, newest first,
	// older than the event ID given ("" for the newest).
	ListAudit(ctx context.Context, tenancy, before string, limit int) ([]AuditEvent, error)
}

// Identity is everything the registry stores about who may do what.
type Identity interface {
	Tenancies
	Users
	Groups
	Tokens
	Policies
	FederationRules
	RoleMappings
	Audit
}

// LoginRefusals counts refused logins by tenancy in fixed windows, to
// raise one login.refused_bulk event per window that reaches a
// threshold (shared/events RefusalCounter).
type LoginRefusals interface {
	// CountRefusal adds one refused login to tenancy's window that
	// starts at start, keeps the count until expires, and returns it.
	CountRefusal(ctx context.Context, tenancy string, start, expires time.Time) (int, error)
	// MarkRefusalAlert records the window's alert once: ErrExists if it
	// is recorded already. It carries an event (store.WithEvent).
	MarkRefusalAlert(ctx context.Context, tenancy string, start time.Time) error
}
