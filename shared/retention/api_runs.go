package retention

import (
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

// runView is a run with its repositories' outcomes.
type runView struct {
	store.RetentionRun
	Results []store.RunRepo `json:"results"`
	// Done says every repository job has finished.
	Done bool `json:"done"`
	// Decisions are the run's first decisions, when the run finished
	// before the answer (a local run); page with .../decisions.
	Decisions []store.Decision `json:"decisions,omitempty"`
}

func (a *API) runView(r *http.Request, run store.RetentionRun, decisions bool) (runView, error) {
	ctx := r.Context()
	rs, err := a.svc.st.Ret.ListRunRepos(ctx, run.Tenancy, run.ID)
	if err != nil {
		return runView{}, err
	}
	if rs == nil {
		rs = []store.RunRepo{}
	}
	v := runView{RetentionRun: run, Results: rs, Done: len(rs) >= run.Repositories}
	if decisions && v.Done {
		if v.Decisions, err = a.svc.st.Ret.ListDecisions(ctx, run.Tenancy, run.ID, "", 1000); err != nil {
			return v, err
		}
	}
	return v, nil
}

// POST /api/retention/runs/<id>/restore
func (a *API) restoreRun(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	id := r.PathValue("run")
	if err := checkRun(id); err != nil {
		return err
	}
	t, err := a.tenancy(r, c, "")
	if err != nil {
		return err
	}
	if _, err := a.svc.st.Ret.GetRun(r.Context(), t, id); err != nil {
		return missing(err, "run %q does not exist in tenancy %s", id, t)
	}
	n, err := a.svc.RestoreRun(r.Context(), t, id)
	if err != nil {
		return err
	}
	a.record(r.Context(), c, t, "restore retention run", id, itoa(n)+" images")
	return reply(w, http.StatusOK, map[string]any{"restored": n})
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
		rt, err := a.repo(r, c, b.Repository)
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
	v, err := a.runView(r, run, true)
	if err != nil {
		return err
	}
	status := http.StatusOK
	if !v.Done {
		status = http.StatusAccepted
	}
	return reply(w, status, v)
}

// runsTenancy is the tenancy a runs request reads, after its cursors
// and run id are checked.
func (a *API) runsTenancy(r *http.Request, c authz.Actor) (string, error) {
	t, err := a.tenancy(r, c, "")
	if err != nil {
		return "", err
	}
	if id := r.PathValue("run"); id != "" {
		if err := checkRun(id); err != nil {
			return "", err
		}
	}
	q := r.URL.Query()
	if b := q.Get("before"); b != "" && !validRunID(b) {
		return "", invalid("before must be a run id (the \"next\" of the previous page), not %q", clip(b))
	}
	if after := q.Get("after"); after != "" {
		if err := checkDecisionCursor(after); err != nil {
			return "", err
		}
	}
	return t, nil
}

// GET /api/retention/runs?before=&limit=
func (a *API) listRuns(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	t, err := a.runsTenancy(r, c)
	if err != nil {
		return err
	}
	n, err := limit(r, 50, 500)
	if err != nil {
		return err
	}
	runs, err := a.svc.st.Ret.ListRuns(r.Context(), t, r.URL.Query().Get("before"), n)
	if err != nil {
		return err
	}
	if runs == nil {
		runs = []store.RetentionRun{}
	}
	res := map[string]any{"runs": runs}
	if len(runs) == n {
		res["next"] = runs[len(runs)-1].ID
	}
	return reply(w, http.StatusOK, res)
}

// GET /api/retention/runs/<id>
func (a *API) getRun(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	t, err := a.runsTenancy(r, c)
	if err != nil {
		return err
	}
	id := r.PathValue("run")
	run, err := a.svc.st.Ret.GetRun(r.Context(), t, id)
	if err != nil {
		return missing(err, "run %q does not exist in tenancy %s", id, t)
	}
	v, err := a.runView(r, run, false)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, v)
}

// GET /api/retention/runs/<id>/decisions?after=&limit=
func (a *API) decisions(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	t, err := a.runsTenancy(r, c)
	if err != nil {
		return err
	}
	n, err := limit(r, 1000, 1000)
	if err != nil {
		return err
	}
	ds, err := a.svc.st.Ret.ListDecisions(r.Context(), t, r.PathValue("run"), r.URL.Query().Get("after"), n)
	if err != nil {
		return err
	}
	if ds == nil {
		ds = []store.Decision{}
	}
	res := map[string]any{"decisions": ds}
	if len(ds) == n {
		res["next"] = store.DecisionCursor(ds[len(ds)-1])
	}
	return reply(w, http.StatusOK, res)
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
