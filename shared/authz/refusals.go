package authz

import "context"

// Refusals hears of every refused login whose tenancy the login names
// (shared/events RefusalCounter raises login.refused_bulk from them).
type Refusals interface {
	// Refused records one refused login in tenancy.
	Refused(ctx context.Context, tenancy string)
}

// WithRefusals returns a copy of the Authorizer that tells r of refused
// logins. The copy shares the cache.
func (a *Authorizer) WithRefusals(r Refusals) *Authorizer {
	c := *a
	c.refusals = r
	return &c
}

// refused tells the Refusals hook of a refused login in tenancy and
// returns the refusal.
func (a *Authorizer) refused(ctx context.Context, tenancy string) error {
	if a.refusals != nil {
		a.refusals.Refused(ctx, tenancy)
	}
	return errBadCredentials
}
