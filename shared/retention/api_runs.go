package retention

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/store"
)

func itoa(n int) string { return strconv.Itoa(n) }

// RunView is a run with its repositories' outcomes.
type RunView struct {
	store.RetentionRun
	Results []store.RunRepo `json:"results"`
	// Done says every repository job has finished.
	Done bool `json:"done"`
	// Decisions are the run's first decisions, when the run finished
	// before the answer (a local run); page with .../decisions.
	Decisions []store.Decision `json:"decisions,omitempty"`
}

func (a *API) runView(ctx context.Context, run store.RetentionRun, decisions bool) (RunView, error) {
	rs, err := a.svc.st.Ret.ListRunRepos(ctx, run.Tenancy, run.ID)
	if err != nil {
		return RunView{}, err
	}
	if rs == nil {
		rs = []store.RunRepo{}
	}
	v := RunView{RetentionRun: run, Results: rs, Done: len(rs) >= run.Repositories}
	if decisions && v.Done {
		if v.Decisions, err = a.svc.st.Ret.ListDecisions(ctx, run.Tenancy, run.ID, "", 1000); err != nil {
			return v, err
		}
	}
	return v, nil
}

// POST /api/retention/runs/<id>/restore
func (a *API) restoreRun(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	n, err := a.RestoreRun(r.Context(), c, r.URL.Query().Get("tenancy"), r.PathValue("run"))
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, map[string]any{"restored": n})
}

// RestoreRun puts back every image run id of tenancy t deleted that is
// still in the recycle bin, and returns how many.
func (a *API) RestoreRun(ctx context.Context, c authz.Actor, t, id string) (int, error) {
	t, err := a.Tenancy(ctx, c, t)
	if err != nil {
		return 0, err
	}
	if err := checkRun(id); err != nil {
		return 0, err
	}
	if _, err := a.svc.st.Ret.GetRun(ctx, t, id); err != nil {
		return 0, missing(err, "run %q does not exist in tenancy %s", id, t)
	}
	n, err := a.svc.RestoreRun(ctx, t, id)
	if err != nil {
		return 0, err
	}
	a.record(ctx, c, t, "restore retention run", id, itoa(n)+" images")
	return n, nil
}

// POST /api/retention/runs: start a run.
func (a *API) startRun(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	var b struct {
		Tenancy    string `json:"tenancy"`
		Repository string `json:"repository"`
		DryRun     bool   `json:"dryRun"`
		Confirm    bool   `json:"confirm"`
		AsOf       string `json:"asOf"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	t := b.Tenancy
	if b.Repository != "" {
		rt, err := a.repo(r.Context(), c, b.Repository)
		if err != nil {
			return err
		}
		if t != "" && t != rt {
			return invalid("repository %s is not in tenancy %s", b.Repository, t)
		}
		t = rt
		if _, err := a.svc.st.Meta.GetRepository(r.Context(), b.Repository); err != nil {
			return missing(err, "repository %q is not known", b.Repository)
		}
	}
	t, err := a.tenancy(r, c, t)
	if err != nil {
		return err
	}
	req := RunRequest{Tenancy: t, Repository: b.Repository, DryRun: b.DryRun, Confirm: b.Confirm, Trigger: "api", By: c.String()}
	if b.AsOf != "" {
		if !a.svc.cfg.TestClock {
			return invalid("%v", ErrAsOf)
		}
		if req.AsOf, err = time.Parse(time.RFC3339, b.AsOf); err != nil {
			return invalid("asOf must be an RFC 3339 time, not %q", b.AsOf)
		}
	}
	run, err := a.svc.StartRun(r.Context(), req)
	if err != nil {
		return err
	}
	if !run.DryRun {
		a.record(r.Context(), c, t, "retention run", run.ID, "confirm="+strconv.FormatBool(run.Confirm))
	}
	v, err := a.runView(r.Context(), run, true)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if !v.Done {
		status = http.StatusAccepted
	}
	return reply(w, status, v)
}

// GET /api/retention/runs?before=&limit=
func (a *API) listRuns(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	n, err := limit(r, 50, 500)
	if err != nil {
		return err
	}
	runs, next, err := a.Runs(r.Context(), c, r.URL.Query().Get("tenancy"), r.URL.Query().Get("before"), n)
	if err != nil {
		return err
	}
	res := map[string]any{"runs": runs}
	if next != "" {
		res["next"] = next
	}
	return reply(w, http.StatusOK, res)
}

// Runs lists up to n (1..500) runs of tenancy t, newest first, older
// than run before ("": the newest); next, when set, is the before of
// the following page.
func (a *API) Runs(ctx context.Context, c authz.Actor, t, before string, n int) (runs []store.RetentionRun, next string, err error) {
	if t, err = a.Tenancy(ctx, c, t); err != nil {
		return nil, "", err
	}
	if before != "" && !validRunID(before) {
		return nil, "", invalid("before must be a run id (the \"next\" of the previous page), not %q", clip(before))
	}
	if n < 1 || n > 500 {
		return nil, "", invalid("limit must be a number from 1 to 500, not %d", n)
	}
	runs, err = a.svc.st.Ret.ListRuns(ctx, t, before, n)
	if err != nil {
		return nil, "", err
	}
	if runs == nil {
		runs = []store.RetentionRun{}
	}
	if len(runs) == n {
		next = runs[len(runs)-1].ID
	}
	return runs, next, nil
}

// GET /api/retention/runs/<id>
func (a *API) getRun(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	v, err := a.Run(r.Context(), c, r.URL.Query().Get("tenancy"), r.PathValue("run"), false)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, v)
}

// Run returns run id of tenancy t with its repositories' outcomes (and,
// with decisions, its first 1000 decisions once it is done).
func (a *API) Run(ctx context.Context, c authz.Actor, t, id string, decisions bool) (RunView, error) {
	t, err := a.Tenancy(ctx, c, t)
	if err != nil {
		return RunView{}, err
	}
	if err := checkRun(id); err != nil {
		return RunView{}, err
	}
	run, err := a.svc.st.Ret.GetRun(ctx, t, id)
	if err != nil {
		return RunView{}, missing(err, "run %q does not exist in tenancy %s", id, t)
	}
	return a.runView(ctx, run, decisions)
}

// GET /api/retention/runs/<id>/decisions?after=&limit=
func (a *API) decisions(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	n, err := limit(r, 1000, 1000)
	if err != nil {
		return err
	}
	ds, next, err := a.Decisions(r.Context(), c, r.URL.Query().Get("tenancy"), r.PathValue("run"), r.URL.Query().Get("after"), n)
	if err != nil {
		return err
	}
	res := map[string]any{"decisions": ds}
	if next != "" {
		res["next"] = next
	}
	return reply(w, http.StatusOK, res)
}

// Decisions lists up to n (1..1000) decisions of run id of tenancy t
// after the cursor given ("" for the start); next, when set, is the
// after of the following page.
func (a *API) Decisions(ctx context.Context, c authz.Actor, t, id, after string, n int) (ds []store.Decision, next string, err error) {
	if t, err = a.Tenancy(ctx, c, t); err != nil {
		return nil, "", err
	}
	if err := checkRun(id); err != nil {
		return nil, "", err
	}
	if after != "" {
		if err := checkDecisionCursor(after); err != nil {
			return nil, "", err
		}
	}
	if n < 1 || n > 1000 {
		return nil, "", invalid("limit must be a number from 1 to 1000, not %d", n)
	}
	ds, err = a.svc.st.Ret.ListDecisions(ctx, t, id, after, n)
	if err != nil {
		return nil, "", err
	}
	if ds == nil {
		ds = []store.Decision{}
	}
	if len(ds) == n {
		next = store.DecisionCursor(ds[len(ds)-1])
	}
	return ds, next, nil
}

// checkDecisionCursor refuses an after= that store.DecisionCursor could
// not have made ("<repository>@<digest>").
func checkDecisionCursor(s string) error {
	i := strings.LastIndex(s, "@")
	if i < 0 || auth.CheckRepository(s[:i]) != nil {
		return invalid("after must be a decision cursor, <repository>@<digest> (the \"next\" of the previous page), not %q", clip(s))
	}
	if _, err := oci.ParseDigest(s[i+1:]); err != nil {
		return errcode.New(errcode.DigestInvalid, "after: %v", err)
	}
	return nil
}

// imageRef parses the "<repo>@<digest>" an image path names.
func imageRef(r *http.Request) (string, digest.Digest, error) {
	ref := r.PathValue("image")
	i := strings.LastIndex(ref, "@")
	if i < 0 {
		return "", "", invalid("name an image as <repository>@<digest>")
	}
	d, err := oci.ParseDigest(ref[i+1:])
	if err != nil {
		return "", "", errcode.New(errcode.DigestInvalid, "%v", err)
	}
	return ref[:i], d, nil
}

// POST /api/retention/gc: collect garbage now (all tenancies share
// blobs, so only the bootstrap tenancy's administrators may).
func (a *API) collect(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	if !c.Super {
		return errcode.New(errcode.Denied, "garbage collection spans every tenancy: only administrators of %s may start it", a.cfg.Tenancy)
	}
	res, err := a.svc.Collect(r.Context(), a.svc.Now())
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, res)
}

// GET|POST /api/retention/clock {"advance": "<duration>"}: the test
// clock (BERTH_TEST_CLOCK=1 only), which every recorded time reads.
func (a *API) clock(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	if !a.cfg.Clock.Test() {
		return notFound("the clock can be moved only when the server runs with BERTH_TEST_CLOCK=1")
	}
	now := a.cfg.Clock.Now()
	if r.Method == http.MethodPost {
		if !c.Super {
			return errcode.New(errcode.Denied, "only administrators of %s may move the clock", a.cfg.Tenancy)
		}
		var b struct {
			Advance string `json:"advance"`
		}
		if err := decode(r, &b); err != nil {
			return err
		}
		d, err := time.ParseDuration(b.Advance)
		if err != nil || d < 0 {
			return invalid("advance must be a duration such as 240h, not %q", b.Advance)
		}
		if now, err = a.cfg.Clock.Advance(d); err != nil {
			return invalid("%v", err)
		}
	}
	return reply(w, http.StatusOK, map[string]any{"now": now})
}
