package retention

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/berth-registry/berth/shared/api"
	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/clock"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/store"
)

// The retention API answers with errcode's codes of Berth's own APIs
// (INVALID, NOT_FOUND, CONFLICT), like the admin API, through shared/api.
var (
	invalid  = api.Invalid
	notFound = api.NotFound
	conflict = api.Conflict
	missing  = api.Missing
	decode   = api.DecodeOptional
	reply    = api.Reply
	clip     = api.Clip
)

// APIConfig configures the retention API.
type APIConfig struct {
	// Tenancy is the bootstrap tenancy (BERTH_TENANCY): its
	// administrators act in every tenancy and alone start a garbage
	// collection, which spans all of them.
	Tenancy string
	// Clock is the process's one clock (shared/clock); when it is a
	// test clock (BERTH_TEST_CLOCK=1), POST /api/retention/clock moves
	// it forward, and with it every recorded time.
	Clock *clock.Clock
}

// API serves /api/retention/.
type API struct {
	svc *Service
	ids store.Identity
	cfg APIConfig
	log *slog.Logger
	mux *api.Mux
}

// NewAPI returns the retention admin API, served under /api/retention/
// by the admin function (behind authz.Enforce, which puts the principal
// in the request's context). docs/retention.md lists its endpoints.
func NewAPI(svc *Service, ids store.Identity, cfg APIConfig) *API {
	a := &API{svc: svc, ids: ids, cfg: cfg, log: svc.log}
	a.mux = api.NewMux(svc.log)
	a.Routes(a.mux)
	a.mux.NotFound(Prefix, "docs/retention.md")
	return a
}

// Prefix is the path the retention API serves under.
const Prefix = "/api/retention/"

// ServeHTTP serves the retention API alone (the admin function serves
// it with the admin API's on one api.Mux: Routes).
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

type handler func(w http.ResponseWriter, r *http.Request, c authz.Actor) error

// Routes adds the retention API's endpoints to m (docs/retention.md).
func (a *API) Routes(m *api.Mux) {
	for pattern, h := range map[string]handler{
		"GET /api/retention/policies":                  a.listPolicies,
		"POST /api/retention/policies":                 a.createPolicy,
		"GET /api/retention/policies/{name}":           a.getPolicy,
		"PUT /api/retention/policies/{name}":           a.putPolicy,
		"PATCH /api/retention/policies/{name}":         a.patchPolicy,
		"DELETE /api/retention/policies/{name}":        a.deletePolicy,
		"GET /api/retention/repositories/{repo...}":    a.repository,
		"PUT /api/retention/repositories/{repo...}":    a.assign,
		"DELETE /api/retention/repositories/{repo...}": a.unassign,
		"GET /api/retention/runs":                      a.listRuns,
		"POST /api/retention/runs":                     a.startRun,
		"GET /api/retention/runs/{run}":                a.getRun,
		"GET /api/retention/runs/{run}/decisions":      a.decisions,
		"POST /api/retention/runs/{run}/restore":       a.restoreRun,
		"GET /api/retention/bin":                       a.bin,
		"POST /api/retention/bin/restore":              a.binRestore,
		"GET /api/retention/pins":                      a.pins,
		"PUT /api/retention/pins/{image...}":           a.pin,
		"DELETE /api/retention/pins/{image...}":        a.unpin,
		"GET /api/retention/images/{image...}":         a.image,
		"POST /api/retention/gc":                       a.collect,
		"GET /api/retention/clock":                     a.clock,
		"POST /api/retention/clock":                    a.clock,
	} {
		m.Handle(pattern, func(w http.ResponseWriter, r *http.Request) error {
			c, err := authz.ActorFrom(r.Context(), a.ids, a.cfg.Tenancy)
			if err != nil {
				return err
			}
			return h(w, r, c)
		})
	}
}

// tenancy is the tenancy a request acts in (?tenancy=, else the
// caller's), which the caller must administer.
func (a *API) tenancy(r *http.Request, c authz.Actor, explicit string) (string, error) {
	t := explicit
	if t == "" {
		t = r.URL.Query().Get("tenancy")
	}
	if t == "" {
		t = c.Tenancy
	}
	if err := auth.CheckTenancy(t); err != nil {
		return "", invalid("%v", err)
	}
	if !c.Admin(t) {
		return "", errcode.New(errcode.Denied, "%s may not manage retention in tenancy %s: that needs the %s group of %s", c.Principal, t, auth.AdminGroup, t)
	}
	if _, err := a.ids.GetTenancy(r.Context(), t); errors.Is(err, store.ErrNotFound) {
		return "", notFound("tenancy %q does not exist", t)
	} else if err != nil {
		return "", err
	}
	return t, nil
}

// repo checks a repository name the caller must administer the tenancy
// of, and returns the tenancy.
func (a *API) repo(r *http.Request, c authz.Actor, name string) (string, error) {
	if err := auth.CheckRepository(name); err != nil {
		return "", errcode.New(errcode.NameInvalid, "%v", err)
	}
	t, _ := auth.SplitRepo(name)
	return a.tenancy(r, c, t)
}

// checkPolicyName refuses a retention policy name the grammar does not
// allow, before it reaches the store.
func checkPolicyName(name string) error {
	if err := auth.CheckPolicyName(name); err != nil {
		return invalid("%v", err)
	}
	return nil
}

// checkRun refuses a run id (or a before= cursor, which is one) that
// newRunID could not have made.
func checkRun(id string) error {
	if !validRunID(id) {
		return notFound("no retention run %q (run ids look like 20260101T000000.000Z-0a1b2c)", clip(id))
	}
	return nil
}

// record appends an audit event; a failure is logged, not answered.
func (a *API) record(ctx context.Context, c authz.Actor, tenancy, action, target, detail string) {
	e := authz.NewAuditEvent(a.cfg.Clock.Now(), c.Principal, action, target, detail)
	e.Tenancy = tenancy
	if err := a.ids.AppendAudit(ctx, e); err != nil {
		a.log.WarnContext(ctx, "audit write failed", "action", action, "error", err.Error())
	}
}

// limit reads ?limit= within [1, max].
func limit(r *http.Request, def, max int) (int, error) { return api.IntParam(r, "limit", def, max) }
