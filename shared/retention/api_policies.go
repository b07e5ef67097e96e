package retention

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/events"
	"github.com/berth-registry/berth/shared/store"
)

// tagPattern is a tag with '*' allowed anywhere.
var tagPattern = regexp.MustCompile(`^[A-Za-z0-9_.*-]{1,128}$`)

// policyView is a policy as the API shows it.
type policyView struct {
	store.RetentionPolicy
	// CoolingUntil is when the policy starts deleting after its last
	// change (omitted for a global policy never set).
	CoolingUntil time.Time `json:"coolingUntil,omitzero"`
	// Breaker is the circuit breaker in force: the policy's own limits,
	// else the configured defaults (a share >= 1 or a count < 0: no
	// limit).
	Breaker      breakerView `json:"breaker"`
	Repositories []string    `json:"repositories"`
}

type breakerView struct {
	MaxDeleteShare float64 `json:"maxDeleteShare"`
	MaxDeleteCount int     `json:"maxDeleteCount"`
}

func (a *API) view(p store.RetentionPolicy, assigned []store.Assignment) policyView {
	v := policyView{RetentionPolicy: p, Repositories: []string{}}
	if !p.Changed.IsZero() {
		v.CoolingUntil = p.Changed.Add(a.svc.cfg.Cooling).UTC()
	}
	v.Breaker.MaxDeleteShare, v.Breaker.MaxDeleteCount = breakerLimits(a.svc.cfg, p)
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

// etag is a policy version as an entity tag: a write sent with
// If-Match: <etag> applies only to that version.
func etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

// GET /api/retention/policies?tenancy=
func (a *API) listPolicies(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	return a.policies(w, r, c, "")
}

// GET /api/retention/policies/<name>?tenancy=
func (a *API) getPolicy(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	name := r.PathValue("name")
	if err := checkPolicyName(name); err != nil {
		return err
	}
	return a.policies(w, r, c, name)
}

// policies answers a tenancy's policies, or the one named.
func (a *API) policies(w http.ResponseWriter, r *http.Request, c authz.Actor, name string) error {
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
		if p.Name == name {
			w.Header().Set("ETag", etag(p.Version))
			return reply(w, http.StatusOK, a.view(p, as))
		}
		out = append(out, a.view(p, as))
	}
	if name != "" {
		return notFound("retention policy %q does not exist in tenancy %s", name, t)
	}
	return reply(w, http.StatusOK, map[string]any{"policies": out})
}

// policyWrite is how a write treats the stored policy.
type policyWrite int

const (
	createOnly   policyWrite = iota // POST: refuse if it exists
	replaceWhole                    // PUT: unnamed fields go back to their defaults
	mergeNamed                      // PATCH: only named fields change
)

// POST /api/retention/policies: create an override policy.
func (a *API) createPolicy(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	body, name, err := policyRequest(r, "")
	if err != nil {
		return err
	}
	if name == store.GlobalPolicy {
		return conflict("the global policy always exists; change it with PATCH %spolicies/global", Prefix)
	}
	return a.writePolicy(w, r, c, name, body, createOnly)
}

// PUT /api/retention/policies/<name>: create or replace a policy.
func (a *API) putPolicy(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	return a.namedWrite(w, r, c, replaceWhole)
}

// PATCH /api/retention/policies/<name>: change the fields named (JSON
// merge patch), creating the policy if needed.
func (a *API) patchPolicy(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	return a.namedWrite(w, r, c, mergeNamed)
}

func (a *API) namedWrite(w http.ResponseWriter, r *http.Request, c authz.Actor, mode policyWrite) error {
	name := r.PathValue("name")
	body, _, err := policyRequest(r, name)
	if err != nil {
		return err
	}
	return a.writePolicy(w, r, c, name, body, mode)
}

// policyRequest reads a write's body: its fields, and the policy name
// (which must match the path's, when there is one).
func policyRequest(r *http.Request, pathName string) (map[string]json.RawMessage, string, error) {
	var body map[string]json.RawMessage
	if err := decode(r, &body); err != nil {
		return nil, "", err
	}
	if body == nil {
		return nil, "", invalid("the body must be a JSON object of policy fields (%s)", fieldNames())
	}
	var name string
	if raw, ok := body["name"]; ok {
		if err := json.Unmarshal(raw, &name); err != nil {
			return nil, "", invalid("name must be a string")
		}
	}
	if pathName != "" {
		if name != "" && name != pathName {
			return nil, "", invalid("the body names policy %q but the path %q", name, pathName)
		}
		name = pathName
	}
	return body, name, nil
}

// policyAnswer is what a policy write answers: the resulting policy,
// what changed, and for a dry run (?dryRun=true) what the change would
// delete, without saving it. A dry run's policy carries the version it
// was computed from: send it back as If-Match to save exactly that.
type policyAnswer struct {
	policyView
	Changes []Change `json:"changes"`
	DryRun  bool     `json:"dryRun,omitempty"`
	Impact  *Impact  `json:"impact,omitempty"`
}

func (a *API) writePolicy(w http.ResponseWriter, r *http.Request, c authz.Actor, name string, body map[string]json.RawMessage, mode policyWrite) error {
	if err := checkPolicyName(name); err != nil {
		return err
	}
	var tenancy string
	if raw, ok := body["tenancy"]; ok {
		if err := json.Unmarshal(raw, &tenancy); err != nil {
			return invalid("tenancy must be a string")
		}
	}
	t, err := a.tenancy(r, c, tenancy)
	if err != nil {
		return err
	}
	dry, err := strconv.ParseBool(cmp.Or(r.URL.Query().Get("dryRun"), "false"))
	if err != nil {
		return invalid("dryRun must be true or false")
	}
	ifMatch := r.Header.Get("If-Match")
	ctx := r.Context()
	for range 5 {
		now := a.svc.Now()
		cur, err := a.svc.st.Ret.GetRetentionPolicy(ctx, t, name)
		exists := err == nil
		switch {
		case exists && mode == createOnly:
			return conflict("retention policy %q exists in tenancy %s; change it with PATCH", name, t)
		case errors.Is(err, store.ErrNotFound):
			cur = store.RetentionPolicy{Tenancy: t, Name: name} // retains everything
		case err != nil:
			return err
		}
		if ifMatch != "" && ifMatch != etag(cur.Version) && ifMatch != "*" {
			return errcode.New(errcode.Conflict, "retention policy %q is at version %d, not %s as If-Match says: it changed meanwhile; read it again", name, cur.Version, ifMatch).
				WithStatus(http.StatusPreconditionFailed)
		}
		next := cur
		if mode != mergeNamed {
			next = withoutFields(cur)
		}
		if err := applyFields(&next, body); err != nil {
			return err
		}
		if err := checkPolicy(next); err != nil {
			return err
		}
		diff, criteria := changes(a.svc.cfg, cur, next)
		if !exists {
			next.Created = now
		}
		if criteria || !exists {
			next.Changed = now // a new policy, or new criteria, cool first
		}
		as, err := a.svc.st.Ret.ListAssignments(ctx, t)
		if err != nil {
			return err
		}
		if dry {
			im, err := a.svc.Preview(ctx, t, cur, next)
			if err != nil {
				return err
			}
			next.Version = cur.Version
			w.Header().Set("ETag", etag(cur.Version))
			return reply(w, http.StatusOK, policyAnswer{policyView: a.view(next, as), Changes: diff, DryRun: true, Impact: &im})
		}
		if exists && len(diff) == 0 {
			w.Header().Set("ETag", etag(cur.Version))
			return reply(w, http.StatusOK, policyAnswer{policyView: a.view(cur, as), Changes: diff})
		}
		next.Version = cur.Version + 1
		err = a.svc.st.Ret.PutRetentionPolicy(events.With(ctx, policyEvent(ctx, now, next, "", "")), next)
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrExists) {
			if ifMatch != "" {
				return errcode.New(errcode.Conflict, "retention policy %q changed meanwhile; read it again", name).WithStatus(http.StatusPreconditionFailed)
			}
			continue // a concurrent write: read again
		} else if err != nil {
			return err
		}
		a.record(ctx, c, t, "put retention policy", name, summarize(diff))
		status := http.StatusOK
		if !exists {
			status = http.StatusCreated
		}
		w.Header().Set("ETag", etag(next.Version))
		return reply(w, status, policyAnswer{policyView: a.view(next, as), Changes: diff})
	}
	return conflict("retention policy %q kept changing; try again", name)
}

// DELETE /api/retention/policies/<name>: delete an override without
// repositories, or reset the global policy to retain everything.
func (a *API) deletePolicy(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	name := r.PathValue("name")
	if err := checkPolicyName(name); err != nil {
		return err
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
		if x.Policy == name {
			repos = append(repos, x.Repo)
		}
	}
	if len(repos) > 0 {
		return conflict("retention policy %q still governs %s; unassign them first", name, strings.Join(repos, ", "))
	}
	ev := policyEvent(ctx, a.svc.Now(), store.RetentionPolicy{Tenancy: t, Name: name}, events.Deleted, "")
	err = a.svc.st.Ret.DeleteRetentionPolicy(events.With(ctx, ev), t, name)
	if errors.Is(err, store.ErrNotFound) && name == store.GlobalPolicy {
		err = nil // retaining everything already
	}
	if err := missing(err, "retention policy %q does not exist in tenancy %s", name, t); err != nil {
		return err
	}
	a.record(ctx, c, t, "delete retention policy", name, "")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// GET /api/retention/repositories/<repo>: the policy that governs it.
func (a *API) repository(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	name := r.PathValue("repo")
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
func (a *API) assign(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	name := r.PathValue("repo")
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
	if err := checkPolicyName(b.Policy); err != nil {
		return err
	}
	if _, err := a.svc.st.Ret.GetRetentionPolicy(ctx, t, b.Policy); err != nil {
		return missing(err, "retention policy %q does not exist in tenancy %s", b.Policy, t)
	}
	ev := policyEvent(ctx, a.svc.Now(), store.RetentionPolicy{Tenancy: t, Name: b.Policy}, events.Assigned, name)
	err = a.svc.st.Ret.Assign(events.With(ctx, ev), store.Assignment{Tenancy: t, Repo: name, Policy: b.Policy, Created: a.svc.Now()})
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
func (a *API) unassign(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	name := r.PathValue("repo")
	t, err := a.repo(r, c, name)
	if err != nil {
		return err
	}
	ctx := r.Context()
	cur, err := a.svc.st.Ret.GetAssignment(ctx, t, name)
	if err := missing(err, "repository %s has no override policy", name); err != nil {
		return err
	}
	ev := policyEvent(ctx, a.svc.Now(), store.RetentionPolicy{Tenancy: t, Name: cur.Policy}, events.Unassigned, name)
	if err := missing(a.svc.st.Ret.Unassign(events.With(ctx, ev), t, name), "repository %s has no override policy", name); err != nil {
		return err
	}
	a.record(ctx, c, t, "unassign retention policy", name, "")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// policyEvent is a retention_policy.changed about p: a put (change ""),
// a deletion, or repo's assignment to it or unassignment from it.
func policyEvent(ctx context.Context, now time.Time, p store.RetentionPolicy, change, repo string) events.Event {
	d := events.RetentionPolicyData{Policy: p.Name, Change: change, Repository: repo}
	if change == "" {
		d.NotPulledDays, d.UntaggedDays, d.ExemptTags, d.Version = p.NotPulledDays, p.UntaggedDays, p.ExemptTags, p.Version
	}
	return events.New(ctx, now, events.RetentionPolicyChanged, p.Tenancy, repo, d)
}
