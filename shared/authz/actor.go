package authz

import (
	"context"
	"errors"
	"slices"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/store"
)

// Actor is the principal of an API request (/api), with its groups read
// from the store: a registry token names its subject, not the subject's
// groups, and the store is fresher than the authorizer's cache.
type Actor struct {
	auth.Principal
	// Super is an administrator of the bootstrap tenancy
	// (BERTH_TENANCY), who administers every tenancy.
	Super bool
}

// Member reports whether the actor may read tenancy t.
func (x Actor) Member(t string) bool { return x.Super || x.Tenancy == t }

// Admin reports whether the actor administers tenancy t.
func (x Actor) Admin(t string) bool { return x.Super || (x.Tenancy == t && x.IsAdmin()) }

// ActorFrom reads the actor of the request in ctx from the enforced
// decision (Enforce) and its groups from ids; bootstrap is the bootstrap
// tenancy. An anonymous request, or one whose user no longer exists, is
// 401 UNAUTHORIZED.
func ActorFrom(ctx context.Context, ids store.Identity, bootstrap string) (Actor, error) {
	d, ok := DecisionFrom(ctx)
	if !ok || d.Principal.Anonymous() {
		return Actor{}, errcode.New(errcode.Unauthorized, "the API needs credentials: Basic <tenancy>/<user> with an auth token")
	}
	p := d.Principal
	u, err := ids.GetUser(ctx, p.Tenancy, p.User)
	if errors.Is(err, store.ErrNotFound) {
		return Actor{}, errcode.New(errcode.Unauthorized, "user %s no longer exists", p)
	} else if err != nil {
		return Actor{}, err
	}
	p.Groups = slices.Clone(u.Groups)
	return Actor{Principal: p, Super: p.Tenancy == bootstrap && p.IsAdmin()}, nil
}
