package admin

import (
	"context"
	"errors"
	"net/http"
	"strconv"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/store"
)

// usageView is a repository's or tenancy's stored bytes (docs/usage.md).
type usageView struct {
	Bytes       int64 `json:"bytes"`
	UniqueBytes int64 `json:"uniqueBytes"`
	SharedBytes int64 `json:"sharedBytes"`
	Blobs       int   `json:"blobs"`
	Measured    any   `json:"measured,omitempty"`
}

func viewUsage(u store.Usage) *usageView {
	v := &usageView{Bytes: u.Bytes, UniqueBytes: u.Unique, SharedBytes: u.Shared, Blobs: u.Blobs}
	if !u.Measured.IsZero() {
		v.Measured = u.Measured
	}
	return v
}

// repoUsage returns the usage of a tenancy's repositories by name (none
// without a usage store).
func (a *API) repoUsage(ctx context.Context, tenancy string) (map[string]*usageView, error) {
	out := map[string]*usageView{}
	if a.cfg.Usage == nil {
		return out, nil
	}
	us, err := a.cfg.Usage.ListUsage(ctx, tenancy)
	if err != nil {
		return nil, err
	}
	for _, u := range us {
		if u.Kind == store.UsageRepository {
			out[u.Name] = viewUsage(u)
		}
	}
	return out, nil
}

// GET /api/tenancies/{t}/usage (members): the tenancy's stored bytes,
// its quota, and its repositories' stored bytes (those the caller may
// inspect), as the last garbage collection measured them.
func (a *API) getUsage(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	if err := a.requireMember(ctx, c); err != nil {
		return err
	}
	if a.cfg.Usage == nil {
		return notFound("this registry keeps no usage")
	}
	us, err := a.cfg.Usage.ListUsage(ctx, c.tenancy)
	if err != nil {
		return err
	}
	stmts, err := a.statementsFor(ctx, c.who, c.tenancy)
	if err != nil {
		return err
	}
	res := map[string]any{"tenancy": c.tenancy, "usage": &usageView{}, "quota": nil}
	repos := []map[string]any{}
	for _, u := range us {
		switch {
		case u.Kind == store.UsageTenancy:
			res["usage"] = viewUsage(u)
		case verb(c.who, stmts, u.Name, false) >= auth.Inspect:
			repos = append(repos, map[string]any{"name": u.Name, "usage": viewUsage(u)})
		}
	}
	res["repositories"] = repos
	if q, err := a.cfg.Usage.GetQuota(ctx, c.tenancy); err == nil {
		res["quota"] = q
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return reply(w, http.StatusOK, res)
}

// PUT /api/tenancies/{t}/quota {"bytes": N}: set a tenancy's soft
// storage quota (administrators of the bootstrap tenancy: a tenancy's
// own administrators may not raise their quota).
func (a *API) putQuota(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	var req struct {
		Bytes int64 `json:"bytes"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := a.requireOperator(ctx, c); err != nil {
		return err
	}
	if req.Bytes <= 0 {
		return invalid(`give the quota in bytes, {"bytes": 10737418240} for 10 GiB; DELETE removes it`)
	}
	q := store.Quota{Tenancy: c.tenancy, Bytes: req.Bytes, By: c.who.String(), Updated: a.now().UTC()}
	if err := a.cfg.Usage.PutQuota(ctx, q); err != nil {
		return err
	}
	a.record(ctx, c.who, c.tenancy, "set quota", c.tenancy, strconv.FormatInt(req.Bytes, 10)+" bytes")
	return reply(w, http.StatusOK, q)
}

// DELETE /api/tenancies/{t}/quota: remove a tenancy's quota.
func (a *API) deleteQuota(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	if err := a.requireOperator(ctx, c); err != nil {
		return err
	}
	if err := a.cfg.Usage.PutQuota(ctx, store.Quota{Tenancy: c.tenancy}); err != nil {
		return err
	}
	a.record(ctx, c.who, c.tenancy, "remove quota", c.tenancy, "")
	return noContent(w)
}

// requireOperator refuses all but the bootstrap tenancy's
// administrators, for a tenancy that exists, on a store that keeps
// quotas.
func (a *API) requireOperator(ctx context.Context, c *call) error {
	if !c.who.Super {
		return denied("%s may not change quotas: that needs membership of the %s group of tenancy %s", c.who, auth.AdminGroup, a.cfg.Tenancy)
	}
	if a.cfg.Usage == nil {
		return notFound("this registry keeps no quotas")
	}
	return a.tenancyExists(ctx, c.tenancy)
}
