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
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/events"
	"github.com/berth-registry/berth/shared/store"
)

// MaxStatements bounds one policy (OCI's own limit per policy).
const MaxStatements = 50

// PolicyView is a policy as the API shows it.
type PolicyView struct {
	Tenancy    string    `json:"tenancy"`
	Name       string    `json:"name"`
	Statements []string  `json:"statements"`
	Updated    time.Time `json:"updated,omitzero"`
	// Warnings point out statements that grant nothing yet (a group
	// that does not exist); they do not stop the write.
	Warnings []string `json:"warnings,omitempty"`
}

func viewPolicy(p store.Policy) PolicyView {
	return PolicyView{Tenancy: p.Tenancy, Name: p.Name, Statements: p.Statements, Updated: p.Updated}
}

// GET /api/tenancies/{t}/policies (members)
func (a *API) listPolicies(w http.ResponseWriter, r *http.Request, c *call) error {
	out, err := a.Policies(r.Context(), c.who, c.tenancy)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, map[string]any{"policies": out})
}

// Policies lists the policies of tenancy t, for its members.
func (a *API) Policies(ctx context.Context, who authz.Actor, t string) ([]PolicyView, error) {
	c, err := a.as(who, t)
	if err != nil {
		return nil, err
	}
	if err := a.requireMember(ctx, c); err != nil {
		return nil, err
	}
	ps, err := a.ids.ListPolicies(ctx, c.tenancy)
	if err != nil {
		return nil, err
	}
	out := make([]PolicyView, 0, len(ps))
	for _, p := range ps {
		out = append(out, viewPolicy(p))
	}
	return out, nil
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
	v, err := a.PutPolicy(r.Context(), c.who, c.tenancy, req.Name, req.Statements, true)
	if err != nil {
		return err
	}
	return reply(w, http.StatusCreated, v)
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
	v, err := a.PutPolicy(r.Context(), c.who, c.tenancy, c.policy, req.Statements, false)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, v)
}

// StatementProblem is the detail of a policy refused for a statement
// that does not parse: which statement (1-based) and the column at
// fault, so an editor can point at it.
type StatementProblem struct {
	Statement int    `json:"statement"`
	Column    int    `json:"column"`
	Problem   string `json:"problem"`
}

// PutPolicy validates statements with the policy parser and stores
// policy name of tenancy t (create: only if it does not exist), for the
// tenancy's administrators. A statement that does not parse is 400
// INVALID whose detail is a StatementProblem; a statement naming a
// group that does not exist is saved with a warning.
func (a *API) PutPolicy(ctx context.Context, who authz.Actor, t, name string, statements []string, create bool) (PolicyView, error) {
	c, err := a.as(who, t)
	if err != nil {
		return PolicyView{}, err
	}
	c.policy = name
	if err := a.requireAdmin(ctx, c, "write policies"); err != nil {
		return PolicyView{}, err
	}
	if err := checkPolicyName(name); err != nil {
		return PolicyView{}, err
	}
	if create {
		if _, err := a.ids.GetPolicy(ctx, c.tenancy, name); err == nil {
			return PolicyView{}, conflict("policy %q already exists in tenancy %s; replace it with PUT (berth policies put)", name, c.tenancy)
		} else if !errors.Is(err, store.ErrNotFound) {
			return PolicyView{}, err
		}
	}
	if len(statements) == 0 {
		return PolicyView{}, invalid(`a policy needs at least one statement, such as "allow group <group> to read repos in tenancy"`)
	}
	if len(statements) > MaxStatements {
		return PolicyView{}, invalid("a policy holds at most %d statements; split it into several policies", MaxStatements)
	}
	parsed := make([]auth.Statement, 0, len(statements))
	for i, text := range statements {
		st, err := auth.ParseStatement(text)
		if err != nil {
			e := errcode.New(errcode.Invalid, "invalid policy: statement %d: %v", i+1, err)
			var pe *auth.ParseError
			if errors.As(err, &pe) {
				e.Detail = StatementProblem{Statement: i + 1, Column: pe.Column, Problem: pe.Msg}
			}
			return PolicyView{}, e
		}
		parsed = append(parsed, st)
	}
	p := store.Policy{Tenancy: c.tenancy, Name: name, Updated: a.now().UTC()}
	for _, st := range parsed {
		p.Statements = append(p.Statements, st.Text)
	}
	ev := events.New(ctx, a.now(), events.PolicyChanged, c.tenancy, "", events.PolicyData{Policy: p.Name, Statements: p.Statements})
	if err := a.ids.PutPolicy(events.With(ctx, ev), p); err != nil {
		return PolicyView{}, err
	}
	v := viewPolicy(p)
	if v.Warnings, err = a.policyWarnings(ctx, c.tenancy, parsed); err != nil {
		return v, err
	}
	a.record(ctx, c.who, c.tenancy, "put policy", p.Name, strings.Join(p.Statements, "; "))
	return v, nil
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
	if err := a.DeletePolicy(r.Context(), c.who, c.tenancy, c.policy); err != nil {
		return err
	}
	return noContent(w)
}

// DeletePolicy deletes policy name of tenancy t, for its
// administrators.
func (a *API) DeletePolicy(ctx context.Context, who authz.Actor, t, name string) error {
	c, err := a.as(who, t)
	if err != nil {
		return err
	}
	c.policy = name
	if err := c.check(); err != nil {
		return err
	}
	if err := a.requireAdmin(ctx, c, "delete policies"); err != nil {
		return err
	}
	ev := events.New(ctx, a.now(), events.PolicyChanged, c.tenancy, "", events.PolicyData{Policy: c.policy, Change: events.Deleted})
	if err := a.ids.DeletePolicy(events.With(ctx, ev), c.tenancy, c.policy); err != nil {
		return missing(err, "policy %q does not exist in tenancy %s", c.policy, c.tenancy)
	}
	a.record(ctx, c.who, c.tenancy, "delete policy", c.policy, "")
	return nil
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
