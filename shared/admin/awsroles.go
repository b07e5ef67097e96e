package admin

import (
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/iamlogin"
	"github.com/berth-registry/berth/shared/store"
)

// MaxRoleMappings bounds a tenancy's AWS role mappings (the authorizer
// reads no more).
const MaxRoleMappings = 50

// mappingBody is what a client writes of an AWS role mapping.
type mappingBody struct {
	Role               string `json:"role"`
	Group              string `json:"group"`
	MaxLifetimeSeconds int    `json:"maxLifetimeSeconds"`
}

// mappingView is a mapping as the API shows it.
type mappingView struct {
	store.RoleMapping
	// Login is the login the mapping lets in.
	Login string `json:"login"`
}

func viewMapping(m store.RoleMapping) mappingView {
	return mappingView{RoleMapping: m, Login: m.Tenancy + "/" + auth.AWSUser}
}

// GET /api/tenancies/{t}/aws-roles (members)
func (a *API) listMappings(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := a.requireMember(r.Context(), c); err != nil {
		return err
	}
	ms, err := a.ids.ListRoleMappings(r.Context(), c.tenancy)
	if err != nil {
		return err
	}
	out := make([]mappingView, 0, len(ms))
	for _, m := range ms {
		out = append(out, viewMapping(m))
	}
	return reply(w, http.StatusOK, map[string]any{"mappings": out})
}

// GET /api/tenancies/{t}/aws-roles/{name} (members)
func (a *API) getMapping(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := a.requireMember(r.Context(), c); err != nil {
		return err
	}
	m, err := a.ids.GetRoleMapping(r.Context(), c.tenancy, c.mapping)
	if err != nil {
		return missing(err, "AWS role mapping %q does not exist in tenancy %s", c.mapping, c.tenancy)
	}
	return reply(w, http.StatusOK, viewMapping(m))
}

// POST /api/tenancies/{t}/aws-roles {"name", ...} creates a mapping
// (administrators); PUT on the mapping's path creates or replaces.
func (a *API) createMapping(w http.ResponseWriter, r *http.Request, c *call) error {
	var req struct {
		Name string `json:"name"`
		mappingBody
	}
	if err := a.requireAdmin(r.Context(), c, "write AWS role mappings"); err != nil {
		return err
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := checkMappingName(req.Name); err != nil {
		return err
	}
	c.mapping = req.Name
	return a.writeMapping(w, r, c, req.mappingBody, http.StatusCreated)
}

// PUT /api/tenancies/{t}/aws-roles/{name} (administrators)
func (a *API) putMapping(w http.ResponseWriter, r *http.Request, c *call) error {
	var req mappingBody
	if err := a.requireAdmin(r.Context(), c, "write AWS role mappings"); err != nil {
		return err
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	return a.writeMapping(w, r, c, req, http.StatusOK)
}

// writeMapping validates a mapping and stores it.
func (a *API) writeMapping(w http.ResponseWriter, r *http.Request, c *call, b mappingBody, status int) error {
	ctx := r.Context()
	if err := iamlogin.CheckPattern(b.Role); err != nil {
		return invalid("role %q: %v", clipped(b.Role), err)
	}
	lt, err := ruleLifetime(b.MaxLifetimeSeconds)
	if err != nil {
		return err
	}
	m := store.RoleMapping{Role: b.Role, Group: b.Group, MaxLifetimeSeconds: lt}
	if _, err := a.checkGroups(ctx, c.tenancy, []string{b.Group}); err != nil {
		return err
	}
	existing, err := a.ids.ListRoleMappings(ctx, c.tenancy)
	if err != nil {
		return err
	}
	if len(existing) >= MaxRoleMappings && !slices.ContainsFunc(existing, func(e store.RoleMapping) bool { return e.Name == c.mapping }) {
		return conflict("tenancy %s holds %d AWS role mappings, the most it may; delete one first", c.tenancy, MaxRoleMappings)
	}
	m.Tenancy, m.Name, m.Updated = c.tenancy, c.mapping, a.now().UTC()
	write := a.ids.PutRoleMapping
	if status == http.StatusCreated {
		// POST creates: of two racing for a name, one wins, one is told.
		write = a.ids.CreateRoleMapping
	}
	if err := write(ctx, m); errors.Is(err, store.ErrExists) {
		return conflict("AWS role mapping %q already exists in tenancy %s; replace it with PUT (berth aws-roles put)", m.Name, c.tenancy)
	} else if err != nil {
		return err
	}
	a.record(ctx, c.who, c.tenancy, "put aws role mapping", m.Name,
		fmt.Sprintf("role=%s group=%s maxLifetimeSeconds=%d", m.Role, m.Group, m.MaxLifetimeSeconds))
	return reply(w, status, viewMapping(m))
}

// DELETE /api/tenancies/{t}/aws-roles/{name} (administrators)
func (a *API) deleteMapping(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	if err := a.requireAdmin(ctx, c, "delete AWS role mappings"); err != nil {
		return err
	}
	if err := a.ids.DeleteRoleMapping(ctx, c.tenancy, c.mapping); err != nil {
		return missing(err, "AWS role mapping %q does not exist in tenancy %s", c.mapping, c.tenancy)
	}
	a.record(ctx, c.who, c.tenancy, "delete aws role mapping", c.mapping, "")
	return noContent(w)
}

func checkMappingName(s string) error {
	if !validRuleName(s) {
		return invalid("AWS role mapping name %q must be 1 to 100 characters of letters, digits, '.', '_' and '-', starting with a letter or digit", clipped(s))
	}
	return nil
}
