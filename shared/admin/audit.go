package admin

import (
	"context"
	"net/http"
	"strings"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/store"
)

// AuditQuery selects a page of a tenancy's audit trail, newest first.
type AuditQuery struct {
	// Before is the id of the last event of the previous page ("": the
	// newest).
	Before string
	// Limit is the most events on the page (1..1000).
	Limit int
	// Principal, Action and Target keep the events whose field holds
	// the text (case-insensitive); empty keeps all.
	Principal, Action, Target string
}

// AuditPage is a page of audit events; Next, when set, is the Before
// of the following page.
type AuditPage struct {
	Events []store.AuditEvent `json:"events"`
	Next   string             `json:"next,omitempty"`
}

// auditScan bounds how many events one filtered page reads looking for
// matches; the page then ends early, with Next to read on.
const auditScan = 5000

// Audit reads tenancy t's audit trail, for its administrators
// (GET /api/tenancies/{t}/audit).
func (a *API) Audit(ctx context.Context, who authz.Actor, t string, q AuditQuery) (AuditPage, error) {
	c, err := a.as(who, t)
	if err != nil {
		return AuditPage{}, err
	}
	if err := a.requireAdmin(ctx, c, "read the audit trail"); err != nil {
		return AuditPage{}, err
	}
	if q.Limit < 1 || q.Limit > 1000 {
		return AuditPage{}, invalid("limit must be a number from 1 to 1000, not %d", q.Limit)
	}
	if q.Before != "" && !authz.ValidAuditID(q.Before) {
		return AuditPage{}, invalid("before must be an audit event id (the \"next\" of the previous page), not %q", clipped(q.Before))
	}
	match := func(e store.AuditEvent) bool {
		for _, f := range []struct{ v, want string }{{e.Principal, q.Principal}, {e.Action, q.Action}, {e.Target, q.Target}} {
			if f.want != "" && !strings.Contains(strings.ToLower(f.v), strings.ToLower(f.want)) {
				return false
			}
		}
		return true
	}
	filtered := q.Principal != "" || q.Action != "" || q.Target != ""
	out := AuditPage{Events: []store.AuditEvent{}}
	before, scanned := q.Before, 0
	for {
		batch := q.Limit
		if filtered {
			batch = 1000
		}
		es, err := a.ids.ListAudit(ctx, c.tenancy, before, batch)
		if err != nil {
			return out, err
		}
		for _, e := range es {
			before, scanned = e.ID, scanned+1
			if !match(e) {
				continue
			}
			out.Events = append(out.Events, e)
			if len(out.Events) == q.Limit {
				out.Next = e.ID
				return out, nil
			}
		}
		if len(es) < batch {
			return out, nil
		}
		if scanned >= auditScan {
			out.Next = before
			return out, nil
		}
	}
}

// GET /api/tenancies/{t}/audit?before=&limit=&principal=&action=&target=
// (administrators): the trail, newest first; "next" is the before= of
// the following page.
func (a *API) listAudit(w http.ResponseWriter, r *http.Request, c *call) error {
	limit, err := intParam(r, "limit", 100, 1000)
	if err != nil {
		return err
	}
	q := r.URL.Query()
	page, err := a.Audit(r.Context(), c.who, c.tenancy, AuditQuery{Before: q.Get("before"), Limit: limit,
		Principal: q.Get("principal"), Action: q.Get("action"), Target: q.Get("target")})
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, page)
}

// AccessCheck is the answer to "may group G do V on repository R?".
type AccessCheck struct {
	Group      string `json:"group"`
	Repository string `json:"repository"`
	Verb       string `json:"verb"`
	// Allowed says the group holds the verb (or a stronger one).
	Allowed bool `json:"allowed"`
	// Holds is the strongest verb the group holds there ("": none).
	Holds string `json:"holds,omitempty"`
	// Because names what grants it: the administrators group, the
	// statements that cover the repository for the group, or a public
	// repository's anonymous read.
	Because []string `json:"because,omitempty"`
}

// CheckAccess answers whether a member of group may do verb on
// repository repo of tenancy t, with the decision code the authorizer
// runs (auth.RepoAccess) over the tenancy's policies as stored now; for
// the tenancy's administrators (GET /api/tenancies/{t}/access-check).
func (a *API) CheckAccess(ctx context.Context, who authz.Actor, t, group, verb, repo string) (AccessCheck, error) {
	c, err := a.as(who, t)
	if err != nil {
		return AccessCheck{}, err
	}
	c.group = group
	if err := c.check(); err != nil {
		return AccessCheck{}, err
	}
	if err := a.requireAdmin(ctx, c, "check what groups may do"); err != nil {
		return AccessCheck{}, err
	}
	v, ok := map[string]auth.Verb{"inspect": auth.Inspect, "read": auth.Read, "use": auth.Use, "manage": auth.Manage}[verb]
	if !ok {
		return AccessCheck{}, invalid("verb must be inspect, read, use or manage, not %q", clipped(verb))
	}
	if err := checkRepoName(repo); err != nil {
		return AccessCheck{}, err
	}
	if rt, _ := auth.SplitRepo(repo); rt != t {
		return AccessCheck{}, invalid("repository %s is not in tenancy %s", repo, t)
	}
	public := false
	if rec, err := a.meta.GetRepository(ctx, repo); err == nil {
		public = rec.Public
	}
	stmts, err := a.statements(ctx, t)
	if err != nil {
		return AccessCheck{}, err
	}
	p := auth.Principal{Tenancy: t, User: "(a member of " + group + ")", Groups: []string{group}}
	held := auth.RepoAccess(p, stmts, repo, public)
	out := AccessCheck{Group: group, Repository: repo, Verb: verb, Allowed: held >= v}
	if held > 0 {
		out.Holds = held.String()
	}
	_, rest := auth.SplitRepo(repo)
	switch {
	case group == auth.AdminGroup:
		out.Because = []string{"the " + auth.AdminGroup + " group manages everything in its tenancy"}
	default:
		for _, s := range stmts {
			if s.Group == group && s.Matches(rest) {
				out.Because = append(out.Because, s.Text)
			}
		}
		if public {
			out.Because = append(out.Because, "the repository is public: anyone may read it")
		}
	}
	return out, nil
}

// GET /api/tenancies/{t}/access-check?group=&verb=&repository=
// (administrators)
func (a *API) accessCheck(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	out, err := a.CheckAccess(r.Context(), c.who, c.tenancy, q.Get("group"), q.Get("verb"), q.Get("repository"))
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, out)
}
