package admin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/store"
)

// Auth token limits.
const (
	// MaxActiveTokens is how many unrevoked, unexpired auth tokens a
	// user may hold, as in OCIR.
	MaxActiveTokens = 2
	// DefaultTokenDays is a new token's lifetime when none is asked for.
	DefaultTokenDays = 365
	// MaxTokenDays is the longest lifetime a token may be given.
	MaxTokenDays = 3650
)

// TokenView is an auth token as listed: never its hash.
type TokenView struct {
	ID          string    `json:"id"`
	Description string    `json:"description,omitempty"`
	Created     time.Time `json:"created,omitzero"`
	// Expires is absent for a token that never expires (the bootstrap
	// token).
	Expires time.Time `json:"expires,omitzero"`
	Revoked bool      `json:"revoked"`
	Active  bool      `json:"active"`
}

// TokenCreated answers a token's creation: the secret, shown this once.
type TokenCreated struct {
	ID          string    `json:"id"`
	Token       string    `json:"token"`
	Login       string    `json:"login"`
	Description string    `json:"description,omitempty"`
	Expires     time.Time `json:"expires,omitzero"`
}

// active reports whether a token can still log in.
func active(t store.AuthToken, now time.Time) bool {
	return !t.Revoked && (t.Expires.IsZero() || now.Before(t.Expires))
}

// GET /api/tenancies/{t}/users/{u}/tokens (the user itself, or
// administrators)
func (a *API) listTokens(w http.ResponseWriter, r *http.Request, c *call) error {
	out, err := a.Tokens(r.Context(), c.who, c.tenancy, c.user)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, map[string]any{"tokens": out})
}

// Tokens lists the auth tokens of user t/user, for the user itself and
// the tenancy's administrators.
func (a *API) Tokens(ctx context.Context, who authz.Actor, t, user string) ([]TokenView, error) {
	c, err := a.asUser(who, t, user)
	if err != nil {
		return nil, err
	}
	if err := a.requireSelfOrAdmin(ctx, c, "list the auth tokens of "+c.user); err != nil {
		return nil, err
	}
	if err := a.userExists(ctx, c.tenancy, c.user); err != nil {
		return nil, err
	}
	ts, err := a.ids.ListTokens(ctx, c.tenancy, c.user)
	if err != nil {
		return nil, err
	}
	now := a.now()
	out := make([]TokenView, 0, len(ts))
	for _, t := range ts {
		out = append(out, TokenView{ID: t.ID, Description: t.Description, Created: t.Created, Expires: t.Expires, Revoked: t.Revoked, Active: active(t, now)})
	}
	return out, nil
}

// asUser is as, for a user's resource.
func (a *API) asUser(who authz.Actor, t, user string) (*call, error) {
	c, err := a.as(who, t)
	if err != nil {
		return nil, err
	}
	c.user = user
	return c, c.check()
}

// POST /api/tenancies/{t}/users/{u}/tokens {"description",
// "expiresInDays"} (the user itself, or administrators)
func (a *API) createToken(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := a.requireSelfOrAdmin(r.Context(), c, "create auth tokens for "+c.user); err != nil {
		return err
	}
	var req struct {
		Description   string `json:"description"`
		ExpiresInDays *int   `json:"expiresInDays"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	days := DefaultTokenDays
	if req.ExpiresInDays != nil {
		days = *req.ExpiresInDays
	}
	tok, err := a.CreateToken(r.Context(), c.who, c.tenancy, c.user, req.Description, days)
	if err != nil {
		return err
	}
	return reply(w, http.StatusCreated, tok)
}

// CreateToken creates an auth token for user t/user that expires in
// days (1..MaxTokenDays), for the user itself and the tenancy's
// administrators, and returns its secret: shown this once, stored only
// hashed.
func (a *API) CreateToken(ctx context.Context, who authz.Actor, t, user, description string, days int) (TokenCreated, error) {
	c, err := a.asUser(who, t, user)
	if err != nil {
		return TokenCreated{}, err
	}
	if err := a.requireSelfOrAdmin(ctx, c, "create auth tokens for "+c.user); err != nil {
		return TokenCreated{}, err
	}
	if days < 1 || days > MaxTokenDays {
		return TokenCreated{}, invalid("expiresInDays must be from 1 to %d (default %d), not %d", MaxTokenDays, DefaultTokenDays, days)
	}
	if len(description) > 200 {
		return TokenCreated{}, invalid("a token description is at most 200 characters")
	}
	if err := a.userExists(ctx, c.tenancy, c.user); err != nil {
		return TokenCreated{}, err
	}
	ts, err := a.ids.ListTokens(ctx, c.tenancy, c.user)
	if err != nil {
		return TokenCreated{}, err
	}
	n := 0
	for _, t := range ts {
		if active(t, a.now()) {
			n++
		}
	}
	if n >= MaxActiveTokens {
		return TokenCreated{}, invalid("%s/%s already has %d active auth tokens, the most a user may hold; revoke one first (berth tokens revoke <id> --user %s)", c.tenancy, c.user, n, c.user)
	}
	tok, err := a.issueToken(ctx, c.tenancy, c.user, description, days)
	if err != nil {
		return TokenCreated{}, err
	}
	a.record(ctx, c.who, c.tenancy, "create token", c.tenancy+"/"+c.user, "id "+tok.ID)
	return tok, nil
}

// issueToken stores a new auth token and returns its secret.
func (a *API) issueToken(ctx context.Context, tenancy, user, description string, days int) (TokenCreated, error) {
	id, secret, hash := auth.NewAuthToken()
	now := a.now().UTC().Truncate(time.Second)
	t := store.AuthToken{
		Tenancy: tenancy, User: user, ID: id, Description: description, Hash: hash,
		Created: now, Expires: now.AddDate(0, 0, days),
	}
	if err := a.ids.PutToken(ctx, t); err != nil {
		return TokenCreated{}, err
	}
	return TokenCreated{ID: id, Token: secret, Login: tenancy + "/" + user, Description: description, Expires: t.Expires}, nil
}

// DELETE /api/tenancies/{t}/users/{u}/tokens/{id} revokes a token (the
// user itself, or administrators). Revoking twice is not an error.
func (a *API) revokeToken(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := a.RevokeToken(r.Context(), c.who, c.tenancy, c.user, c.token); err != nil {
		return err
	}
	return noContent(w)
}

// RevokeToken revokes auth token id of user t/user, for the user
// itself and the tenancy's administrators (again: no error).
func (a *API) RevokeToken(ctx context.Context, who authz.Actor, t, user, id string) error {
	c, err := a.asUser(who, t, user)
	if err != nil {
		return err
	}
	c.token = id
	if err := c.check(); err != nil {
		return err
	}
	if err := a.requireSelfOrAdmin(ctx, c, "revoke auth tokens of "+c.user); err != nil {
		return err
	}
	tok, err := a.ids.GetToken(ctx, c.tenancy, c.user, c.token)
	if err != nil {
		return missing(err, "user %s/%s has no auth token %q", c.tenancy, c.user, c.token)
	}
	if !tok.Revoked {
		tok.Revoked = true
		if err := a.ids.PutToken(ctx, tok); err != nil {
			return err
		}
		a.record(ctx, c.who, c.tenancy, "revoke token", c.tenancy+"/"+c.user, "id "+tok.ID)
	}
	return nil
}

func (a *API) userExists(ctx context.Context, tenancy, user string) error {
	if _, err := a.ids.GetUser(ctx, tenancy, user); errors.Is(err, store.ErrNotFound) {
		return notFound("user %s/%s does not exist", tenancy, user)
	} else if err != nil {
		return err
	}
	return nil
}
