package retention

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/events"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/textform"
)

// validTagPattern reports whether s is a tag pattern: a tag with '*'
// allowed anywhere, 1 to 128 of [A-Za-z0-9_.*-].
func validTagPattern(s string) bool { return textform.Run(s, 1, 128, "_.*-") }

// PolicyView is a policy as the API shows it.
type PolicyView struct {
	store.RetentionPolicy
	// CoolingUntil is when the policy starts deleting after its last
	// change (omitted for a global policy never set).
	CoolingUntil time.Time `json:"coolingUntil,omitzero"`
	// Breaker is the circuit breaker in force: the policy's own limits,
	// else the configured defaults (a share >= 1 or a count < 0: no
	// limit).
	Breaker      BreakerView `json:"breaker"`
	Repositories []string    `json:"repositories"`
}

// BreakerView is the circuit breaker's limits in force for a policy.
type BreakerView struct {
	MaxDeleteShare float64 `json:"maxDeleteShare"`
	MaxDeleteCount int     `json:"maxDeleteCount"`
}

func (a *API) view(p store.RetentionPolicy, assigned []store.Assignment) PolicyView {
	v := PolicyView{RetentionPolicy: p, Repositories: []string{}}
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

// Etag is a policy version as an entity tag: a write sent with
// If-Match: <etag> applies only to that version.
func Etag(version int64) string { return `"` + strconv.FormatInt(version, 10) + `"` }

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
	ps, err := a.Policies(r.Context(), c, r.URL.Query().Get("tenancy"))
	if err != nil {
		return err
	}
	if name == "" {
		return reply(w, http.StatusOK, map[string]any{"policies": ps})
	}
	for _, p := range ps {
		if p.Name == name {
			w.Header().Set("ETag", Etag(p.Version))
			return reply(w, http.StatusOK, p)
		}
	}
	return notFound("retention policy %q does not exist in tenancy %s", name, cmp.Or(r.URL.Query().Get("tenancy"), c.Tenancy))
}

// Policies returns the retention policies of tenancy t ("": c's own),
// the global one first (retaining everything when never set), each
// with its repositories, cooling period and breaker limits, for an
// administrator of t (GET /api/retention/policies).
func (a *API) Policies(ctx context.Context, c authz.Actor, t string) ([]PolicyView, error) {
	t, err := a.Tenancy(ctx, c, t)
	if err != nil {
		return nil, err
	}
	ps, err := a.svc.st.Ret.ListRetentionPolicies(ctx, t)
	if err != nil {
		return nil, err
	}
	as, err := a.svc.st.Ret.ListAssignments(ctx, t)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(ps, func(p store.RetentionPolicy) bool { return p.Name == store.GlobalPolicy }) {
		ps = append([]store.RetentionPolicy{{Tenancy: t, Name: store.GlobalPolicy}}, ps...)
	}
	out := []PolicyView{}
	for _, p := range ps {
		out = append(out, a.view(p, as))
	}
	slices.SortStableFunc(out, func(x, y PolicyView) int {
		return cmp.Compare(boolRank(x.Name != store.GlobalPolicy), boolRank(y.Name != store.GlobalPolicy))
	})
	return out, nil
}

func boolRank(b bool) int {
	if b {
		return 1
	}
	return 0
}

// WriteMode is how a policy write treats the stored policy.
type WriteMode int

const (
	// CreateOnly refuses to write over a policy that exists (POST).
	CreateOnly WriteMode = iota
	// ReplaceWhole sets the fields given and resets the others to
	// their defaults (PUT).
	ReplaceWhole
	// MergeNamed changes only the fields given (PATCH, a JSON merge
	// patch).
	MergeNamed
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
	return a.writePolicy(w, r, c, name, body, CreateOnly)
}

// PUT /api/retention/policies/<name>: create or replace a policy.
func (a *API) putPolicy(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	return a.namedWrite(w, r, c, ReplaceWhole)
}

// PATCH /api/retention/policies/<name>: change the fields named (JSON
// merge patch), creating the policy if needed.
func (a *API) patchPolicy(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	return a.namedWrite(w, r, c, MergeNamed)
}

func (a *API) namedWrite(w http.ResponseWriter, r *http.Request, c authz.Actor, mode WriteMode) error {
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

// PolicyAnswer is what a policy write answers: the resulting policy,
// what changed, and for a dry run (?dryRun=true) what the change would
// delete, without saving it. A dry run's policy carries the version it
// was computed from: send it back as If-Match to save exactly that.
type PolicyAnswer struct {
	PolicyView
	Changes []Change `json:"changes"`
	DryRun  bool     `json:"dryRun,omitempty"`
	Impact  *Impact  `json:"impact,omitempty"`
}

func (a *API) writePolicy(w http.ResponseWriter, r *http.Request, c authz.Actor, name string, body map[string]json.RawMessage, mode WriteMode) error {
	var tenancy string
	if raw, ok := body["tenancy"]; ok {
		if err := json.Unmarshal(raw, &tenancy); err != nil {
			return invalid("tenancy must be a string")
		}
	}
	dry, err := strconv.ParseBool(cmp.Or(r.URL.Query().Get("dryRun"), "false"))
	if err != nil {
		return invalid("dryRun must be true or false")
	}
	ans, created, err := a.WritePolicy(r.Context(), c, PolicyWrite{
		Tenancy: cmp.Or(tenancy, r.URL.Query().Get("tenancy")), Name: name, Fields: body, Mode: mode,
		IfMatch: r.Header.Get("If-Match"), DryRun: dry,
	})
	if err != nil {
		return err
	}
	w.Header().Set("ETag", Etag(ans.Version))
	status := http.StatusOK
	if created {
		status = http.StatusCreated
	}
	return reply(w, status, ans)
}

// PolicyWrite is one write of a retention policy.
type PolicyWrite struct {
	// Tenancy is the policy's tenancy ("": the actor's).
	Tenancy string
	Name    string
	// Fields are the policy fields to set, as JSON values by field name
	// (notPulledDays, untaggedDays, exemptTags, maxDeleteShare,
	// maxDeleteCount); "tenancy" and "name" are ignored.
	Fields map[string]json.RawMessage
	Mode   WriteMode
	// IfMatch, when set, applies the write only to that version (an
	// Etag, or "*").
	IfMatch string
	// DryRun computes the change and its Impact without saving: the
	// answer's Version is the one it was computed from, to send back as
	// IfMatch to save exactly what was previewed.
	DryRun bool
}

// WritePolicy creates or changes a retention policy for an
// administrator of its tenancy, or previews the change (DryRun), and
// reports whether it created the policy (POST, PUT and PATCH
// /api/retention/policies). A version that moved since IfMatch is 412;
// a concurrent write without IfMatch is retried on the newer version.
func (a *API) WritePolicy(ctx context.Context, c authz.Actor, wr PolicyWrite) (ans PolicyAnswer, created bool, err error) {
	name, ifMatch := wr.Name, wr.IfMatch
	if err := checkPolicyName(name); err != nil {
		return ans, false, err
	}
	t, err := a.Tenancy(ctx, c, wr.Tenancy)
	if err != nil {
		return ans, false, err
	}
	repos, assigning, err := a.assignedRepos(ctx, t, name, wr.Fields)
	if err != nil {
		return ans, false, err
	}
	for range 5 {
		now := a.svc.Now()
		cur, err := a.svc.st.Ret.GetRetentionPolicy(ctx, t, name)
		exists := err == nil
		switch {
		case exists && wr.Mode == CreateOnly:
			return ans, false, conflict("retention policy %q exists in tenancy %s; change it with PATCH", name, t)
		case errors.Is(err, store.ErrNotFound):
			cur = store.RetentionPolicy{Tenancy: t, Name: name} // retains everything
		case err != nil:
			return ans, false, err
		}
		if ifMatch != "" && ifMatch != Etag(cur.Version) && ifMatch != "*" {
			return ans, false, errcode.New(errcode.Conflict, "retention policy %q is at version %d, not %s as If-Match says: it changed meanwhile; read it again", name, cur.Version, ifMatch).
				WithStatus(http.StatusPreconditionFailed)
		}
		next := cur
		if wr.Mode != MergeNamed {
			next = withoutFields(cur)
		}
		if err := applyFields(&next, wr.Fields); err != nil {
			return ans, false, err
		}
		if err := checkPolicy(next); err != nil {
			return ans, false, err
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
			return ans, false, err
		}
		var moved *Change
		if assigning {
			if moved = assignmentChange(name, as, repos); moved != nil {
				diff = append(diff, *moved)
			}
		}
		if wr.DryRun {
			var im Impact
			if assigning {
				im, err = a.svc.PreviewAssigned(ctx, t, cur, next, repos)
			} else {
				im, err = a.svc.Preview(ctx, t, cur, next)
			}
			if err != nil {
				return ans, false, err
			}
			next.Version = cur.Version
			v := a.view(next, as)
			if assigning {
				v.Repositories = repos
			}
			return PolicyAnswer{PolicyView: v, Changes: diff, DryRun: true, Impact: &im}, false, nil
		}
		if exists && len(diff) == 0 {
			return PolicyAnswer{PolicyView: a.view(cur, as), Changes: diff}, false, nil
		}
		if exists && moved != nil && len(diff) == 1 {
			// Only the repositories change: the policy stays as it is.
			if err := a.reassign(ctx, c, name, as, repos); err != nil {
				return ans, false, err
			}
			as, err = a.svc.st.Ret.ListAssignments(ctx, t)
			return PolicyAnswer{PolicyView: a.view(cur, as), Changes: diff}, false, err
		}
		next.Version = cur.Version + 1
		err = a.svc.st.Ret.PutRetentionPolicy(events.With(ctx, policyEvent(ctx, now, next, "", "")), next)
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrExists) {
			if ifMatch != "" {
				return ans, false, errcode.New(errcode.Conflict, "retention policy %q changed meanwhile; read it again", name).WithStatus(http.StatusPreconditionFailed)
			}
			continue // a concurrent write: read again
		} else if err != nil {
			return ans, false, err
		}
		a.record(ctx, c, t, "put retention policy", name, summarize(diff))
		if moved != nil {
			if err := a.reassign(ctx, c, name, as, repos); err != nil {
				return ans, false, err
			}
			if as, err = a.svc.st.Ret.ListAssignments(ctx, t); err != nil {
				return ans, false, err
			}
		}
		return PolicyAnswer{PolicyView: a.view(next, as), Changes: diff}, !exists, nil
	}
	return ans, false, conflict("retention policy %q kept changing; try again", name)
}

// DELETE /api/retention/policies/<name>: delete an override without
// repositories, or reset the global policy to retain everything.
func (a *API) deletePolicy(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	if err := a.DeletePolicy(r.Context(), c, r.URL.Query().Get("tenancy"), r.PathValue("name")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// DeletePolicy deletes an override policy that governs no repository,
// or resets tenancy t's global policy to retain everything.
func (a *API) DeletePolicy(ctx context.Context, c authz.Actor, t, name string) error {
	if err := checkPolicyName(name); err != nil {
		return err
	}
	t, err := a.Tenancy(ctx, c, t)
	if err != nil {
		return err
	}
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
