package retention

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/events"
	"github.com/berth-registry/berth/shared/store"
)

// An override's repositories: assigned one by one (PUT and DELETE
// /api/retention/repositories/<repo>) or all at once with the policy
// ("repositories" in a policy write).

// assignedRepos reads a write's "repositories" (an override's whole
// list of repositories, which the write assigns to it and unassigns
// the others from): every one must exist in tenancy t and be under no
// other override. assigning says the write names them.
func (a *API) assignedRepos(ctx context.Context, t, policy string, fields map[string]json.RawMessage) (repos []string, assigning bool, err error) {
	raw, ok := fields["repositories"]
	if !ok {
		return nil, false, nil
	}
	if policy == store.GlobalPolicy {
		return nil, false, invalid("repositories: the global policy governs every repository without an override; name repositories on an override")
	}
	if err := json.Unmarshal(raw, &repos); err != nil {
		return nil, false, invalid("repositories must be a list of repository names, not %s", clip(string(raw)))
	}
	slices.Sort(repos)
	repos = slices.Compact(repos)
	for _, r := range repos {
		if err := auth.CheckRepository(r); err != nil {
			return nil, false, errcode.New(errcode.NameInvalid, "repositories: %v", err)
		}
		if rt, _ := auth.SplitRepo(r); rt != t {
			return nil, false, invalid("repositories: %s is not in tenancy %s", r, t)
		}
		if _, err := a.svc.st.Meta.GetRepository(ctx, r); err != nil {
			return nil, false, missing(err, "repositories: repository %q is not known", r)
		}
		if as, err := a.svc.st.Ret.GetAssignment(ctx, t, r); err == nil && as.Policy != policy {
			return nil, false, conflict("repositories: %s is under policy %q; a repository has at most one override, so unassign it there first", r, as.Policy)
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, false, err
		}
	}
	return repos, true, nil
}

// assignmentChange is the change of policy's repositories from those
// as assigns it to repos (nil: none).
func assignmentChange(policy string, as []store.Assignment, repos []string) *Change {
	var cur []string
	for _, x := range as {
		if x.Policy == policy {
			cur = append(cur, x.Repo)
		}
	}
	slices.Sort(cur)
	if slices.Equal(cur, repos) {
		return nil
	}
	show := func(rs []string) string {
		if len(rs) == 0 {
			return "none"
		}
		return strings.Join(rs, ", ")
	}
	return &Change{Field: "repositories", From: append([]string{}, cur...), To: append([]string{}, repos...),
		Summary: "repositories: " + show(cur) + " → " + show(repos)}
}

// reassign makes repos exactly the repositories under policy: the
// others it governs go back to the global policy, the new ones join.
func (a *API) reassign(ctx context.Context, c authz.Actor, policy string, as []store.Assignment, repos []string) error {
	for _, x := range as {
		if x.Policy == policy && !slices.Contains(repos, x.Repo) {
			if err := a.Unassign(ctx, c, x.Repo); err != nil && !errors.Is(err, store.ErrNotFound) {
				var e *errcode.Error
				if !errors.As(err, &e) || e.Code != errcode.NotFound {
					return err
				}
			}
		}
	}
	for _, r := range repos {
		if slices.ContainsFunc(as, func(x store.Assignment) bool { return x.Repo == r && x.Policy == policy }) {
			continue
		}
		if err := a.Assign(ctx, c, r, policy); err != nil {
			return err
		}
	}
	return nil
}

// GET /api/retention/repositories/<repo>: the policy that governs it.
func (a *API) repository(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	name := r.PathValue("repo")
	t, err := a.repo(r.Context(), c, name)
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
	var b struct {
		Policy string `json:"policy"`
	}
	if _, err := a.repo(r.Context(), c, name); err != nil {
		return err
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	if err := a.Assign(r.Context(), c, name, b.Policy); err != nil {
		return err
	}
	return reply(w, http.StatusOK, map[string]any{"repository": name, "policy": b.Policy, "assigned": true})
}

// Assign puts repository repo under override policy name, for an
// administrator of its tenancy; a repository under another override is
// 409 (unassign it first).
func (a *API) Assign(ctx context.Context, c authz.Actor, repo, policy string) error {
	t, err := a.repo(ctx, c, repo)
	if err != nil {
		return err
	}
	if policy == store.GlobalPolicy || policy == "" {
		return invalid(`assign an override policy ({"policy": "<name>"}); to return %s to the global policy, DELETE the assignment`, repo)
	}
	if err := checkPolicyName(policy); err != nil {
		return err
	}
	if _, err := a.svc.st.Ret.GetRetentionPolicy(ctx, t, policy); err != nil {
		return missing(err, "retention policy %q does not exist in tenancy %s", policy, t)
	}
	ev := policyEvent(ctx, a.svc.Now(), store.RetentionPolicy{Tenancy: t, Name: policy}, events.Assigned, repo)
	err = a.svc.st.Ret.Assign(events.With(ctx, ev), store.Assignment{Tenancy: t, Repo: repo, Policy: policy, Created: a.svc.Now()})
	if errors.Is(err, store.ErrExists) {
		cur, _ := a.svc.st.Ret.GetAssignment(ctx, t, repo)
		return conflict("repository %s is under policy %q; a repository has at most one override, so unassign it first", repo, cur.Policy)
	} else if err != nil {
		return err
	}
	a.record(ctx, c, t, "assign retention policy", repo, policy)
	return nil
}

// DELETE /api/retention/repositories/<repo>: back to the global policy.
func (a *API) unassign(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	if err := a.Unassign(r.Context(), c, r.PathValue("repo")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Unassign returns repository repo to its tenancy's global policy.
func (a *API) Unassign(ctx context.Context, c authz.Actor, repo string) error {
	t, err := a.repo(ctx, c, repo)
	if err != nil {
		return err
	}
	cur, err := a.svc.st.Ret.GetAssignment(ctx, t, repo)
	if err := missing(err, "repository %s has no override policy", repo); err != nil {
		return err
	}
	ev := policyEvent(ctx, a.svc.Now(), store.RetentionPolicy{Tenancy: t, Name: cur.Policy}, events.Unassigned, repo)
	if err := missing(a.svc.st.Ret.Unassign(events.With(ctx, ev), t, repo), "repository %s has no override policy", repo); err != nil {
		return err
	}
	a.record(ctx, c, t, "unassign retention policy", repo, "")
	return nil
}
