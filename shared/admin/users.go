package admin

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/store"
)

// userView is a user as the API shows it.
type userView struct {
	Tenancy string    `json:"tenancy"`
	Name    string    `json:"name"`
	Login   string    `json:"login"`
	Groups  []string  `json:"groups"`
	Created time.Time `json:"created,omitzero"`
}

func viewUser(u store.User) userView {
	g := u.Groups
	if g == nil {
		g = []string{}
	}
	return userView{Tenancy: u.Tenancy, Name: u.Name, Login: u.Tenancy + "/" + u.Name, Groups: g, Created: u.Created}
}

// GET /api/tenancies/{t}/users (administrators)
func (a *API) listUsers(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := a.requireAdmin(r.Context(), c, "list users"); err != nil {
		return err
	}
	us, err := a.ids.ListUsers(r.Context(), c.tenancy)
	if err != nil {
		return err
	}
	out := make([]userView, 0, len(us))
	for _, u := range us {
		out = append(out, viewUser(u))
	}
	return reply(w, http.StatusOK, map[string]any{"users": out})
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
	ctx := r.Context()
	if err := a.requireAdmin(ctx, c, "create users"); err != nil {
		return err
	}
	var req struct {
		Name   string   `json:"name"`
		Groups []string `json:"groups"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := checkUserName(req.Name); err != nil {
		return err
	}
	if auth.Keyless(req.Name) {
		return invalid("user name %q is reserved: %s/%s is the login of keyless (OIDC or AWS IAM) logins, see docs/keyless.md and docs/auth.md", req.Name, c.tenancy, req.Name)
	}
	groups, err := a.checkGroups(ctx, c.tenancy, req.Groups)
	if err != nil {
		return err
	}
	if _, err := a.ids.GetUser(ctx, c.tenancy, req.Name); err == nil {
		return conflict("user %s/%s already exists", c.tenancy, req.Name)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	u := store.User{Tenancy: c.tenancy, Name: req.Name, Groups: groups, Created: a.now().UTC()}
	if err := a.ids.PutUser(ctx, u); err != nil {
		return err
	}
	a.record(ctx, c.who, c.tenancy, "create user", u.Tenancy+"/"+u.Name, "groups: "+strings.Join(groups, ","))
	return reply(w, http.StatusCreated, viewUser(u))
}

// PUT /api/tenancies/{t}/users/{u} {"groups"}: sets the user's groups
// (administrators).
func (a *API) putUser(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	if err := a.requireAdmin(ctx, c, "change group membership"); err != nil {
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
	groups, err := a.checkGroups(ctx, c.tenancy, req.Groups)
	if err != nil {
		return err
	}
	u, err := a.ids.GetUser(ctx, c.tenancy, c.user)
	if err != nil {
		return missing(err, "user %s/%s does not exist", c.tenancy, c.user)
	}
	if c.who.Tenancy == c.tenancy && c.who.User == c.user && slices.Contains(u.Groups, auth.AdminGroup) && !slices.Contains(groups, auth.AdminGroup) {
		return invalid("you cannot remove yourself from %s; another administrator can", auth.AdminGroup)
	}
	u.Groups = groups
	if err := a.ids.PutUser(ctx, u); err != nil {
		return err
	}
	a.record(ctx, c.who, c.tenancy, "set groups", u.Tenancy+"/"+u.Name, "groups: "+strings.Join(groups, ","))
	return reply(w, http.StatusOK, viewUser(u))
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

// groupView is a group as the API shows it.
type groupView struct {
	Tenancy     string    `json:"tenancy"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Created     time.Time `json:"created,omitzero"`
	// Members are listed for administrators only.
	Members []string `json:"members,omitempty"`
}

func viewGroup(g store.Group) groupView {
	return groupView{Tenancy: g.Tenancy, Name: g.Name, Description: g.Description, Created: g.Created}
}

// GET /api/tenancies/{t}/groups (members)
func (a *API) listGroups(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := a.requireMember(r.Context(), c); err != nil {
		return err
	}
	gs, err := a.ids.ListGroups(r.Context(), c.tenancy)
	if err != nil {
		return err
	}
	out := make([]groupView, 0, len(gs))
	for _, g := range gs {
		out = append(out, viewGroup(g))
	}
	return reply(w, http.StatusOK, map[string]any{"groups": out})
}

// GET /api/tenancies/{t}/groups/{g} (members; administrators also see
// the members)
func (a *API) getGroup(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	if err := a.requireMember(ctx, c); err != nil {
		return err
	}
	g, err := a.ids.GetGroup(ctx, c.tenancy, c.group)
	if err != nil {
		return missing(err, "group %q does not exist in tenancy %s", c.group, c.tenancy)
	}
	v := viewGroup(g)
	if c.who.Admin(c.tenancy) {
		if v.Members, err = a.members(ctx, c.tenancy, c.group); err != nil {
			return err
		}
	}
	return reply(w, http.StatusOK, v)
}

// members lists the users of a group (membership is kept on users).
func (a *API) members(ctx context.Context, tenancy, group string) ([]string, error) {
	us, err := a.ids.ListUsers(ctx, tenancy)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, u := range us {
		if slices.Contains(u.Groups, group) {
			out = append(out, u.Name)
		}
	}
	return out, nil
}

// POST /api/tenancies/{t}/groups {"name","description"} (administrators)
func (a *API) createGroup(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	if err := a.requireAdmin(ctx, c, "create groups"); err != nil {
		return err
	}
	var req struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := checkGroupName(req.Name); err != nil {
		return err
	}
	if len(req.Description) > 400 {
		return invalid("a group description is at most 400 characters")
	}
	if _, err := a.ids.GetGroup(ctx, c.tenancy, req.Name); err == nil {
		return conflict("group %q already exists in tenancy %s", req.Name, c.tenancy)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	g := store.Group{Tenancy: c.tenancy, Name: req.Name, Description: req.Description, Created: a.now().UTC()}
	if err := a.ids.PutGroup(ctx, g); err != nil {
		return err
	}
	a.record(ctx, c.who, c.tenancy, "create group", g.Name, "")
	return reply(w, http.StatusCreated, viewGroup(g))
}

// DELETE /api/tenancies/{t}/groups/{g} (administrators): refused while
// the group has members, and always for the administrators group.
func (a *API) deleteGroup(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	if err := a.requireAdmin(ctx, c, "delete groups"); err != nil {
		return err
	}
	if c.group == auth.AdminGroup {
		return invalid("the %s group cannot be deleted", auth.AdminGroup)
	}
	if _, err := a.ids.GetGroup(ctx, c.tenancy, c.group); err != nil {
		return missing(err, "group %q does not exist in tenancy %s", c.group, c.tenancy)
	}
	ms, err := a.members(ctx, c.tenancy, c.group)
	if err != nil {
		return err
	}
	if len(ms) > 0 {
		return conflict("group %q still has members (%s); take them out first (berth users set-groups)", c.group, strings.Join(ms, ", "))
	}
	if err := a.ids.DeleteGroup(ctx, c.tenancy, c.group); err != nil {
		return missing(err, "group %q does not exist in tenancy %s", c.group, c.tenancy)
	}
	a.record(ctx, c.who, c.tenancy, "delete group", c.group, "")
	return noContent(w)
}
