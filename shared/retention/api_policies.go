package retention

import (
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/berth-registry/berth/shared/store"
)

var (
	policyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)
	// tagPattern is a tag with '*' allowed anywhere.
	tagPattern = regexp.MustCompile(`^[A-Za-z0-9_.*-]{1,128}$`)
)

// policyBody is a policy as the API takes it.
type policyBody struct {
	Tenancy        string   `json:"tenancy,omitempty"`
	Name           string   `json:"name,omitempty"`
	NotPulledDays  int      `json:"notPulledDays"`
	UntaggedDays   int      `json:"untaggedDays"`
	ExemptTags     []string `json:"exemptTags"`
	MaxDeleteShare float64  `json:"maxDeleteShare"`
	MaxDeleteCount int      `json:"maxDeleteCount"`
}

// policyView is a policy as the API shows it.
type policyView struct {
	store.RetentionPolicy
	// CoolingUntil is when the policy starts deleting after its last
	// change.
	CoolingUntil string   `json:"coolingUntil"`
	Repositories []string `json:"repositories"`
}

func (b policyBody) check() error {
	switch {
	case b.NotPulledDays < 0 || b.NotPulledDays > 3650 || b.UntaggedDays < 0 || b.UntaggedDays > 3650:
		return invalid("notPulledDays and untaggedDays must be 0 (off) to 3650")
	case b.MaxDeleteShare < 0 || b.MaxDeleteShare > 1:
		return invalid("maxDeleteShare must be 0 (the default) to 1 (no limit)")
	case b.MaxDeleteCount < -1:
		return invalid("maxDeleteCount must be -1 (no limit), 0 (the default) or a number of images")
	}
	for _, p := range b.ExemptTags {
		if !tagPattern.MatchString(p) {
			return invalid("exempt tag pattern %q must be tag characters (letters, digits, '_', '.', '-') and '*'", p)
		}
	}
	return nil
}

func (a *api) view(p store.RetentionPolicy, assigned []store.Assignment) policyView {
	v := policyView{RetentionPolicy: p, CoolingUntil: p.Changed.Add(a.svc.cfg.Cooling).UTC().Format("2006-01-02T15:04:05Z"), Repositories: []string{}}
	for _, as := range assigned {
		if as.Policy == p.Name {
			v.Repositories = append(v.Repositories, as.Repo)
		}
	}
	if v.ExemptTags == nil {
		v.ExemptTags = []string{}
	}
	return v
}

// GET /api/retention/policies[/<name>]?tenancy=
func (a *api) policies(w http.ResponseWriter, r *http.Request, c caller, path []string) error {
	t, err := a.tenancy(r, c, "")
	if err != nil {
		return err
	}
	ps, err := a.svc.st.Ret.ListRetentionPolicies(r.Context(), t)
	if err != nil {
		return err
	}
	as, err := a.svc.st.Ret.ListAssignments(r.Context(), t)
	if err != nil {
		return err
	}
	if !slices.ContainsFunc(ps, func(p store.RetentionPolicy) bool { return p.Name == store.GlobalPolicy }) {
		ps = append([]store.RetentionPolicy{{Tenancy: t, Name: store.GlobalPolicy}}, ps...)
	}
	out := []policyView{}
	for _, p := range ps {
		if len(path) == 1 && p.Name == path[0] {
			return reply(w, http.StatusOK, a.view(p, as))
		}
		out = append(out, a.view(p, as))
	}
	if len(path) > 0 {
		return notFound("retention policy %q does not exist in tenancy %s", strings.Join(path, "/"), t)
	}
	return reply(w, http.StatusOK, map[string]any{"policies": out})
}

// POST /api/retention/policies: create an override policy.
func (a *api) createPolicy(w http.ResponseWriter, r *http.Request, c caller, path []string) error {
	var b policyBody
	if len(path) > 0 {
		return notFound("POST a new policy to %spolicies", Prefix)
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	if b.Name == store.GlobalPolicy {
		return conflict("the global policy always exists; change it with PUT %spolicies/global", Prefix)
	}
	return a.writePolicy(w, r, c, b, true)
}

// PUT /api/retention/policies/<name>: create or change a policy.
func (a *api) putPolicy(w http.ResponseWriter, r *http.Request, c caller, path []string) error {
	if len(path) != 1 {
		return notFound("name the policy: PUT %spolicies/<name>", Prefix)
	}
	var b policyBody
	if err := decode(r, &b); err != nil {
		return err
	}
	if b.Name != "" && b.Name != path[0] {
		return invalid("the body names policy %q but the path %q", b.Name, path[0])
	}
	b.Name = path[0]
	return a.writePolicy(w, r, c, b, false)
}

func (a *api) writePolicy(w http.ResponseWriter, r *http.Request, c caller, b policyBody, create bool) error {
	if !policyName.MatchString(b.Name) {
		return invalid("policy name %q must be 1 to 100 letters, digits, '.', '_' or '-', starting with a letter or digit", b.Name)
	}
	if err := b.check(); err != nil {
		return err
	}
	t, err := a.tenancy(r, c, b.Tenancy)
	if err != nil {
		return err
	}
	ctx := r.Context()
	now := a.svc.Now()
	for range 5 {
		cur, err := a.svc.st.Ret.GetRetentionPolicy(ctx, t, b.Name)
		switch {
		case err == nil && create:
			return conflict("retention policy %q exists in tenancy %s; change it with PUT", b.Name, t)
		case errors.Is(err, store.ErrNotFound):
			cur = store.RetentionPolicy{Tenancy: t, Name: b.Name, Created: now, Changed: now}
		case err != nil:
			return err
		}
		next := cur
		next.NotPulledDays, next.UntaggedDays, next.ExemptTags = b.NotPulledDays, b.UntaggedDays, b.ExemptTags
		next.MaxDeleteShare, next.MaxDeleteCount = b.MaxDeleteShare, b.MaxDeleteCount
		if cur.Version > 0 && (cur.NotPulledDays != next.NotPulledDays || cur.UntaggedDays != next.UntaggedDays || !slices.Equal(cur.ExemptTags, next.ExemptTags)) {
			next.Changed = now // a change restarts the cooling period
		}
		next.Version = cur.Version + 1
		err = a.svc.st.Ret.PutRetentionPolicy(ctx, next)
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrExists) {
			continue // a concurrent write: read again
		} else if err != nil {
			return err
		}
		a.record(ctx, c, t, "put retention policy", b.Name, describe(next))
		as, err := a.svc.st.Ret.ListAssignments(ctx, t)
		if err != nil {
			return err
		}
		status := http.StatusOK
		if cur.Version == 0 {
			status = http.StatusCreated
		}
		return reply(w, status, a.view(next, as))
	}
	return conflict("retention policy %q kept changing; try again", b.Name)
}

func describe(p store.RetentionPolicy) string {
	return "notPulledDays=" + itoa(p.NotPulledDays) + " untaggedDays=" + itoa(p.UntaggedDays) + " exemptTags=" + strings.Join(p.ExemptTags, ",")
}

// DELETE /api/retention/policies/<name>: delete an override without
// repositories, or reset the global policy to retain everything.
func (a *api) deletePolicy(w http.ResponseWriter, r *http.Request, c caller, path []string) error {
	if len(path) != 1 {
		return notFound("name the policy: DELETE %spolicies/<name>", Prefix)
	}
	t, err := a.tenancy(r, c, "")
	if err != nil {
		return err
	}
	ctx := r.Context()
	as, err := a.svc.st.Ret.ListAssignments(ctx, t)
	if err != nil {
		return err
	}
	var repos []string
	for _, x := range as {
		if x.Policy == path[0] {
			repos = append(repos, x.Repo)
		}
	}
	if len(repos) > 0 {
		return conflict("retention policy %q still governs %s; unassign them first", path[0], strings.Join(repos, ", "))
	}
	err = a.svc.st.Ret.DeleteRetentionPolicy(ctx, t, path[0])
	if errors.Is(err, store.ErrNotFound) && path[0] == store.GlobalPolicy {
		err = nil // retaining everything already
	}
	if err := missing(err, "retention policy %q does not exist in tenancy %s", path[0], t); err != nil {
		return err
	}
	a.record(ctx, c, t, "delete retention policy", path[0], "")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// GET /api/retention/repositories/<repo>: the policy that governs it.
func (a *api) repository(w http.ResponseWriter, r *http.Request, c caller, path []string) error {
	name := strings.Join(path, "/")
	t, err := a.repo(r, c, name)
	if err != nil {
		return err
	}
	p, err := a.svc.PolicyFor(r.Context(), t, name)
	if err != nil {
		return err
	}
	_, aerr := a.svc.st.Ret.GetAssignment(r.Context(), t, name)
	return reply(w, http.StatusOK, map[string]any{"repository": name, "policy": p.Name, "assigned": aerr == nil})
}

// PUT /api/retention/repositories/<repo> {"policy": "<name>"}
func (a *api) assign(w http.ResponseWriter, r *http.Request, c caller, path []string) error {
	name := strings.Join(path, "/")
	t, err := a.repo(r, c, name)
	if err != nil {
		return err
	}
	var b struct {
		Policy string `json:"policy"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	ctx := r.Context()
	if b.Policy == store.GlobalPolicy || b.Policy == "" {
		return invalid(`assign an override policy ({"policy": "<name>"}); to return %s to the global policy, DELETE the assignment`, name)
	}
	if _, err := a.svc.st.Ret.GetRetentionPolicy(ctx, t, b.Policy); err != nil {
		return missing(err, "retention policy %q does not exist in tenancy %s", b.Policy, t)
	}
	err = a.svc.st.Ret.Assign(ctx, store.Assignment{Tenancy: t, Repo: name, Policy: b.Policy, Created: a.svc.Now()})
	if errors.Is(err, store.ErrExists) {
		cur, _ := a.svc.st.Ret.GetAssignment(ctx, t, name)
		return conflict("repository %s is under policy %q; a repository has at most one override, so unassign it first", name, cur.Policy)
	} else if err != nil {
		return err
	}
	a.record(ctx, c, t, "assign retention policy", name, b.Policy)
	return reply(w, http.StatusOK, map[string]any{"repository": name, "policy": b.Policy, "assigned": true})
}

// DELETE /api/retention/repositories/<repo>: back to the global policy.
func (a *api) unassign(w http.ResponseWriter, r *http.Request, c caller, path []string) error {
	name := strings.Join(path, "/")
	t, err := a.repo(r, c, name)
	if err != nil {
		return err
	}
	if err := missing(a.svc.st.Ret.Unassign(r.Context(), t, name), "repository %s has no override policy", name); err != nil {
		return err
	}
	a.record(r.Context(), c, t, "unassign retention policy", name, "")
	w.WriteHeader(http.StatusNoContent)
	return nil
}
