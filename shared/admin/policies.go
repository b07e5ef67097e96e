package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/events"
	"github.com/berth-registry/berth/shared/store"
)

// MaxStatements bounds one policy (OCI's own limit per policy).
const MaxStatements = 50

// policyView is a policy as the API shows it.
type policyView struct {
	Tenancy    string    `json:"tenancy"`
	Name       string    `json:"name"`
	Statements []string  `json:"statements"`
	Updated    time.Time `json:"updated,omitzero"`
	// Warnings point out statements that grant nothing yet (a group
	// that does not exist); they do not stop the write.
	Warnings []string `json:"warnings,omitempty"`
}

func viewPolicy(p store.Policy) policyView {
	return policyView{Tenancy: p.Tenancy, Name: p.Name, Statements: p.Statements, Updated: p.Updated}
}

// GET /api/tenancies/{t}/policies (members)
func (a *API) listPolicies(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := a.requireMember(r.Context(), c); err != nil {
		return err
	}
	ps, err := a.ids.ListPolicies(r.Context(), c.tenancy)
	if err != nil {
		return err
	}
	out := make([]policyView, 0, len(ps))
	for _, p := range ps {
		out = append(out, viewPolicy(p))
	}
	return reply(w, http.StatusOK, map[string]any{"policies": out})
}

// GET /api/tenancies/{t}/policies/{name} (members)
func (a *API) getPolicy(w http.ResponseWriter, r *http.Request, c *call) error {
	if err := a.requireMember(r.Context(), c); err != nil {
		return err
	}
	p, err := a.ids.GetPolicy(r.Context(), c.tenancy, c.policy)
	if err != nil {
		return missing(err, "policy %q does not exist in tenancy %s", c.policy, c.tenancy)
	}
	return reply(w, http.StatusOK, viewPolicy(p))
}

// POST /api/tenancies/{t}/policies {"name","statements"} creates a
// policy (administrators); PUT on the policy's path creates or replaces.
func (a *API) createPolicy(w http.ResponseWriter, r *http.Request, c *call) error {
	var req struct {
		Name       string   `json:"name"`
		Statements []string `json:"statements"`
	}
	if err := a.requireAdmin(r.Context(), c, "write policies"); err != nil {
		return err
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := checkPolicyName(req.Name); err != nil {
		return err
	}
	if _, err := a.ids.GetPolicy(r.Context(), c.tenancy, req.Name); err == nil {
		return conflict("policy %q already exists in tenancy %s; replace it with PUT (berth policies put)", req.Name, c.tenancy)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	c.policy = req.Name
	return a.writePolicy(w, r, c, req.Statements, http.StatusCreated)
}

// PUT /api/tenancies/{t}/policies/{name} {"statements"} (administrators)
func (a *API) putPolicy(w http.ResponseWriter, r *http.Request, c *call) error {
	var req struct {
		Statements []string `json:"statements"`
	}
	if err := a.requireAdmin(r.Context(), c, "write policies"); err != nil {
		return err
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := checkPolicyName(c.policy); err != nil {
		return err
	}
	return a.writePolicy(w, r, c, req.Statements, http.StatusOK)
}

// writePolicy validates statements with the policy parser (its message
// names the statement and column at fault) and stores the policy.
func (a *API) writePolicy(w http.ResponseWriter, r *http.Request, c *call, statements []string, status int) error {
	ctx := r.Context()
	if len(statements) == 0 {
		return invalid(`a policy needs at least one statement, such as "allow group <group> to read repos in tenancy"`)
	}
	if len(statements) > MaxStatements {
		return invalid("a policy holds at most %d statements; split it into several policies", MaxStatements)
	}
	parsed, err := auth.ParsePolicy(statements)
	if err != nil {
		return invalid("invalid policy: %v", err)
	}
	p := store.Policy{Tenancy: c.tenancy, Name: c.policy, Updated: a.now().UTC()}
	for _, st := range parsed {
		p.Statements = append(p.Statements, st.Text)
	}
	ev := events.New(ctx, a.now(), events.PolicyChanged, c.tenancy, "", events.PolicyData{Policy: p.Name, Statements: p.Statements})
	if err := a.ids.PutPolicy(events.With(ctx, ev), p); err != nil {
		return err
	}
	v := viewPolicy(p)
	if v.Warnings, err = a.policyWarnings(ctx, c.tenancy, parsed); err != nil {
		return err
	}
	a.record(ctx, c.who, c.tenancy, "put policy", p.Name, strings.Join(p.Statements, "; "))
	return reply(w, status, v)
}

// policyWarnings names the groups statements grant to that do not exist.
func (a *API) policyWarnings(ctx context.Context, tenancy string, stmts []auth.Statement) ([]string, error) {
	var out, seen []string
	for _, st := range stmts {
		if slices.Contains(seen, st.Group) {
			continue
		}
		seen = append(seen, st.Group)
		if _, err := a.ids.GetGroup(ctx, tenancy, st.Group); errors.Is(err, store.ErrNotFound) {
			out = append(out, fmt.Sprintf("group %q does not exist in tenancy %s yet, so statements naming it grant nothing (berth groups create %s)", st.Group, tenancy, st.Group))
		} else if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// DELETE /api/tenancies/{t}/policies/{name} (administrators)
func (a *API) deletePolicy(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	if err := a.requireAdmin(ctx, c, "delete policies"); err != nil {
		return err
	}
	ev := events.New(ctx, a.now(), events.PolicyChanged, c.tenancy, "", events.PolicyData{Policy: c.policy, Change: events.Deleted})
	if err := a.ids.DeletePolicy(events.With(ctx, ev), c.tenancy, c.policy); err != nil {
		return missing(err, "policy %q does not exist in tenancy %s", c.policy, c.tenancy)
	}
	a.record(ctx, c.who, c.tenancy, "delete policy", c.policy, "")
	return noContent(w)
}

// statements returns a tenancy's parsed statements, read afresh (the
// admin API is not on the hot path, and a just-written policy applies).
func (a *API) statements(ctx context.Context, tenancy string) ([]auth.Statement, error) {
	ps, err := a.ids.ListPolicies(ctx, tenancy)
	if err != nil {
		return nil, err
	}
	var out []auth.Statement
	for _, p := range ps {
		for _, s := range p.Statements {
			if st, err := auth.ParseStatement(s); err == nil {
				out = append(out, st)
			}
		}
	}
	return out, nil
}
