package admin

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/store"
)

// UserView is a user as the API shows it.
type UserView struct {
	Tenancy string    `json:"tenancy"`
	Name    string    `json:"name"`
	Login   string    `json:"login"`
	Groups  []string  `json:"groups"`
	Created time.Time `json:"created,omitzero"`
}

func viewUser(u store.User) UserView {
	g := u.Groups
	if g == nil {
		g = []string{}
	}
	return UserView{Tenancy: u.Tenancy, Name: u.Name, Login: u.Tenancy + "/" + u.Name, Groups: g, Created: u.Created}
}

// GET /api/tenancies/{t}/users (administrators)
func (a *API) listUsers(w http.ResponseWriter, r *http.Request, c *call) error {
	out, err := a.Users(r.Context(), c.who, c.tenancy)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, map[string]any{"users": out})
}

// Users lists the users of tenancy t, for its administrators.
func (a *API) Users(ctx context.Context, who authz.Actor, t string) ([]UserView, error) {
	c, err := a.as(who, t)
	if err != nil {
		return nil, err
	}
	if err := a.requireAdmin(ctx, c, "list users"); err != nil {
		return nil, err
	}
	us, err := a.ids.ListUsers(ctx, c.tenancy)
	if err != nil {
		return nil, err
	}
	out := make([]UserView, 0, len(us))
	for _, u := range us {
		out = append(out, viewUser(u))
	}
	return out, nil
}

// GET /api/tenancies/{t}/users/{u} (administrators, or the user itself)
func (a *API) getUser(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := a.requireSelfOrAdmin(r.Context(), c, "see user "+c.user); err != nil {
		return err
	}
	u, err := a.ids.GetUser(r.Context(), c.tenancy, c.user)
	if err != nil {
		return missing(err, "user %s/%s does not exist", c.tenancy, c.user)
	}
	return reply(w, http.StatusOK, viewUser(u))
}

// requireSelfOrAdmin lets through the user named in the path and the
// tenancy's administrators.
func (a *API) requireSelfOrAdmin(ctx context.Context, c *call, what string) error {
	if err := a.requireMember(ctx, c); err != nil {
		return err
	}
	if c.who.Admin(c.tenancy) || (c.who.Tenancy == c.tenancy && c.who.User == c.user) {
		return nil
	}
	return denied("%s may not %s: only the user itself and the %s group of tenancy %s may", c.who, what, auth.AdminGroup, c.tenancy)
}

// POST /api/tenancies/{t}/users {"name","groups"} (administrators)
func (a *API) createUser(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := a.requireAdmin(r.Context(), c, "create users"); err != nil {
		return err
	}
	var req struct {
		Name   string   `json:"name"`
		Groups []string `json:"groups"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	u, err := a.CreateUser(r.Context(), c.who, c.tenancy, req.Name, req.Groups)
	if err != nil {
		return err
	}
	return reply(w, http.StatusCreated, u)
}

// CreateUser creates user name in tenancy t with the groups given
// (each must exist), for the tenancy's administrators.
func (a *API) CreateUser(ctx context.Context, who authz.Actor, t, name string, groups []string) (UserView, error) {
	c, err := a.as(who, t)
	if err != nil {
		return UserView{}, err
	}
	if err := a.requireAdmin(ctx, c, "create users"); err != nil {
		return UserView{}, err
	}
	if err := checkUserName(name); err != nil {
		return UserView{}, err
	}
	if auth.Keyless(name) {
		return UserView{}, invalid("user name %q is reserved: %s/%s is the login of keyless (OIDC or AWS IAM) logins, see docs/keyless.md and docs/auth.md", name, c.tenancy, name)
	}
	groups, err = a.checkGroups(ctx, c.tenancy, groups)
	if err != nil {
		return UserView{}, err
	}
	if _, err := a.ids.GetUser(ctx, c.tenancy, name); err == nil {
		return UserView{}, conflict("user %s/%s already exists", c.tenancy, name)
	} else if !errors.Is(err, store.ErrNotFound) {
		return UserView{}, err
	}
	u := store.User{Tenancy: c.tenancy, Name: name, Groups: groups, Created: a.now().UTC()}
	if err := a.ids.PutUser(ctx, u); err != nil {
		return UserView{}, err
	}
	a.record(ctx, c.who, c.tenancy, "create user", u.Tenancy+"/"+u.Name, "groups: "+strings.Join(groups, ","))
	return viewUser(u), nil
}

// PUT /api/tenancies/{t}/users/{u} {"groups"}: sets the user's groups
// (administrators).
func (a *API) putUser(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := a.requireAdmin(r.Context(), c, "change group membership"); err != nil {
		return err
	}
	var req struct {
		Groups []string `json:"groups"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Groups == nil {
		return invalid(`give the user's groups as {"groups": [...]} (an empty list removes it from every group)`)
	}
	u, err := a.SetGroups(r.Context(), c.who, c.tenancy, c.user, req.Groups)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, u)
}

// SetGroups makes groups (each must exist; none: no group) the groups
// of user t/user, for the tenancy's administrators; an administrator
// cannot take themself out of the administrators group.
func (a *API) SetGroups(ctx context.Context, who authz.Actor, t, user string, groups []string) (UserView, error) {
	c, err := a.asUser(who, t, user)
	if err != nil {
		return UserView{}, err
	}
	if err := a.requireAdmin(ctx, c, "change group membership"); err != nil {
		return UserView{}, err
	}
	groups, err = a.checkGroups(ctx, c.tenancy, groups)
	if err != nil {
		return UserView{}, err
	}
	u, err := a.ids.GetUser(ctx, c.tenancy, c.user)
	if err != nil {
		return UserView{}, missing(err, "user %s/%s does not exist", c.tenancy, c.user)
	}
	if c.who.Tenancy == c.tenancy && c.who.User == c.user && slices.Contains(u.Groups, auth.AdminGroup) && !slices.Contains(groups, auth.AdminGroup) {
		return UserView{}, invalid("you cannot remove yourself from %s; another administrator can", auth.AdminGroup)
	}
	u.Groups = groups
	if err := a.ids.PutUser(ctx, u); err != nil {
		return UserView{}, err
	}
	a.record(ctx, c.who, c.tenancy, "set groups", u.Tenancy+"/"+u.Name, "groups: "+strings.Join(groups, ","))
	return viewUser(u), nil
}

// DELETE /api/tenancies/{t}/users/{u} (administrators): revokes the
// user's tokens, then removes the user.
func (a *API) deleteUser(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	if err := a.requireAdmin(ctx, c, "delete users"); err != nil {
		return err
	}
	if c.who.Tenancy == c.tenancy && c.who.User == c.user {
		return invalid("you cannot delete yourself; another administrator can")
	}
	if _, err := a.ids.GetUser(ctx, c.tenancy, c.user); err != nil {
		return missing(err, "user %s/%s does not exist", c.tenancy, c.user)
	}
	toks, err := a.ids.ListTokens(ctx, c.tenancy, c.user)
	if err != nil {
		return err
	}
	for _, t := range toks {
		if !t.Revoked {
			t.Revoked = true
			if err := a.ids.PutToken(ctx, t); err != nil {
				return err
			}
		}
	}
	if err := a.ids.DeleteUser(ctx, c.tenancy, c.user); err != nil {
		return missing(err, "user %s/%s does not exist", c.tenancy, c.user)
	}
	a.record(ctx, c.who, c.tenancy, "delete user", c.tenancy+"/"+c.user, "")
	return noContent(w)
}

// checkGroups validates a membership list: every group must exist.
// Duplicates are dropped; the result is sorted.
func (a *API) checkGroups(ctx context.Context, tenancy string, groups []string) ([]string, error) {
	out := []string{}
	for _, g := range groups {
		if err := checkGroupName(g); err != nil {
			return nil, err
		}
		if slices.Contains(out, g) {
			continue
		}
		if _, err := a.ids.GetGroup(ctx, tenancy, g); errors.Is(err, store.ErrNotFound) {
			return nil, invalid("group %q does not exist in tenancy %s; create it first (berth groups create %s)", g, tenancy, g)
		} else if err != nil {
			return nil, err
		}
		out = append(out, g)
	}
	slices.Sort(out)
	return out, nil
}
