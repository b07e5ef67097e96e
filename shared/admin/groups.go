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

// GroupView is a group as the API shows it.
type GroupView struct {
	Tenancy     string    `json:"tenancy"`
	Name        string    `json:"name"`
	Description string    `json:"description,omitempty"`
	Created     time.Time `json:"created,omitzero"`
	// Members are listed for administrators only.
	Members []string `json:"members,omitempty"`
}

func viewGroup(g store.Group) GroupView {
	return GroupView{Tenancy: g.Tenancy, Name: g.Name, Description: g.Description, Created: g.Created}
}

// GET /api/tenancies/{t}/groups (members)
func (a *API) listGroups(w http.ResponseWriter, r *http.Request, c *call) error {
	out, err := a.Groups(r.Context(), c.who, c.tenancy)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, map[string]any{"groups": out})
}

// Groups lists the groups of tenancy t, for its members; its
// administrators also see each group's members.
func (a *API) Groups(ctx context.Context, who authz.Actor, t string) ([]GroupView, error) {
	c, err := a.as(who, t)
	if err != nil {
		return nil, err
	}
	if err := a.requireMember(ctx, c); err != nil {
		return nil, err
	}
	gs, err := a.ids.ListGroups(ctx, c.tenancy)
	if err != nil {
		return nil, err
	}
	var us []store.User
	if who.Admin(t) {
		if us, err = a.ids.ListUsers(ctx, t); err != nil {
			return nil, err
		}
	}
	out := make([]GroupView, 0, len(gs))
	for _, g := range gs {
		v := viewGroup(g)
		for _, u := range us {
			if slices.Contains(u.Groups, g.Name) {
				v.Members = append(v.Members, u.Name)
			}
		}
		out = append(out, v)
	}
	return out, nil
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
	if err := a.requireAdmin(r.Context(), c, "create groups"); err != nil {
		return err
	}
	var req struct {
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	g, err := a.CreateGroup(r.Context(), c.who, c.tenancy, req.Name, req.Description)
	if err != nil {
		return err
	}
	return reply(w, http.StatusCreated, g)
}

// CreateGroup creates a group in tenancy t, for its administrators.
func (a *API) CreateGroup(ctx context.Context, who authz.Actor, t, name, description string) (GroupView, error) {
	c, err := a.as(who, t)
	if err != nil {
		return GroupView{}, err
	}
	if err := a.requireAdmin(ctx, c, "create groups"); err != nil {
		return GroupView{}, err
	}
	if err := checkGroupName(name); err != nil {
		return GroupView{}, err
	}
	if len(description) > 400 {
		return GroupView{}, invalid("a group description is at most 400 characters")
	}
	if _, err := a.ids.GetGroup(ctx, c.tenancy, name); err == nil {
		return GroupView{}, conflict("group %q already exists in tenancy %s", name, c.tenancy)
	} else if !errors.Is(err, store.ErrNotFound) {
		return GroupView{}, err
	}
	g := store.Group{Tenancy: c.tenancy, Name: name, Description: description, Created: a.now().UTC()}
	if err := a.ids.PutGroup(ctx, g); err != nil {
		return GroupView{}, err
	}
	a.record(ctx, c.who, c.tenancy, "create group", g.Name, "")
	return viewGroup(g), nil
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
