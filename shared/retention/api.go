package retention

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/clock"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/store"
)

// The retention API answers with errcode's codes of Berth's own APIs
// (INVALID, NOT_FOUND, CONFLICT), like the admin API.

func invalid(format string, args ...any) error { return errcode.New(errcode.Invalid, format, args...) }

func notFound(format string, args ...any) error {
	return errcode.New(errcode.NotFound, format, args...)
}

func conflict(format string, args ...any) error {
	return errcode.New(errcode.Conflict, format, args...)
}

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

// api serves /api/retention/.
type api struct {
	svc *Service
	ids store.Identity
	cfg APIConfig
	log *slog.Logger
}

// API returns the retention admin API, served under /api/retention/ by
// the admin function (behind authz.Enforce, which puts the principal in
// the request's context). docs/retention.md lists its endpoints.
func API(svc *Service, ids store.Identity, cfg APIConfig) http.Handler {
	return &api{svc: svc, ids: ids, cfg: cfg, log: svc.log}
}

// Prefix is the path the retention API serves under.
const Prefix = "/api/retention/"

// caller is a request's principal with its groups read from the store.
type caller struct {
	auth.Principal
	super bool
}

func (c caller) admin(tenancy string) bool { return c.super || (c.Tenancy == tenancy && c.IsAdmin()) }

type handler func(w http.ResponseWriter, r *http.Request, c caller, path []string) error

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := a.serve(w, r); err != nil {
		var e *errcode.Error
		if !errors.As(err, &e) {
			a.log.ErrorContext(r.Context(), "retention API request failed", "method", r.Method, "path", r.URL.Path, "error", err.Error())
		}
		errcode.Write(w, r, err)
	}
}

func (a *api) serve(w http.ResponseWriter, r *http.Request) error {
	rest, ok := strings.CutPrefix(r.URL.Path, Prefix)
	path := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	if !ok || slices.Contains(path, "") {
		return notFound("no retention API endpoint at %s; see docs/retention.md", r.URL.Path)
	}
	routes := map[string]map[string]handler{
		"policies":     {"GET": a.policies, "POST": a.createPolicy, "PUT": a.putPolicy, "PATCH": a.patchPolicy, "DELETE": a.deletePolicy},
		"repositories": {"GET": a.repository, "PUT": a.assign, "DELETE": a.unassign},
		"runs":         {"GET": a.runs, "POST": a.runsPost},
		"bin":          {"GET": a.bin, "POST": a.binRestore},
		"pins":         {"GET": a.pins, "PUT": a.pin, "DELETE": a.unpin},
		"images":       {"GET": a.image},
		"gc":           {"POST": a.collect},
		"clock":        {"GET": a.clock, "POST": a.clock},
	}
	ms, ok := routes[path[0]]
	if !ok {
		return notFound("no retention API endpoint at %s; see docs/retention.md", r.URL.Path)
	}
	h, ok := ms[r.Method]
	if !ok {
		var allow []string
		for m := range ms {
			allow = append(allow, m)
		}
		slices.Sort(allow)
		return errcode.New(errcode.Unsupported, "%s is not supported on %s; use %s", r.Method, r.URL.Path, strings.Join(allow, ", ")).
			WithHeader("Allow", strings.Join(allow, ", "))
	}
	c, err := a.caller(r.Context())
	if err != nil {
		return err
	}
	return h(w, r, c, path[1:])
}

// caller reads the principal from the enforced decision and its groups
// from the store (fresher than the authorizer's cache).
func (a *api) caller(ctx context.Context) (caller, error) {
	d, ok := authz.DecisionFrom(ctx)
	if !ok || d.Principal.Anonymous() {
		return caller{}, errcode.New(errcode.Unauthorized, "the retention API needs credentials: Basic <tenancy>/<user> with an auth token")
	}
	p := d.Principal
	u, err := a.ids.GetUser(ctx, p.Tenancy, p.User)
	if errors.Is(err, store.ErrNotFound) {
		return caller{}, errcode.New(errcode.Unauthorized, "user %s no longer exists", p)
	} else if err != nil {
		return caller{}, err
	}
	p.Groups = slices.Clone(u.Groups)
	return caller{Principal: p, super: p.Tenancy == a.cfg.Tenancy && p.IsAdmin()}, nil
}

// tenancy is the tenancy a request acts in (?tenancy=, else the
// caller's), which the caller must administer.
func (a *api) tenancy(r *http.Request, c caller, explicit string) (string, error) {
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
	if !c.admin(t) {
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
func (a *api) repo(r *http.Request, c caller, name string) (string, error) {
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

// clip shortens a value quoted in a message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// record appends an audit event; a failure is logged, not answered.
func (a *api) record(ctx context.Context, c caller, tenancy, action, target, detail string) {
	e := authz.NewAuditEvent(c.Principal, action, target, detail)
	e.Tenancy = tenancy
	if err := a.ids.AppendAudit(ctx, e); err != nil {
		a.log.WarnContext(ctx, "audit write failed", "action", action, "error", err.Error())
	}
}

const maxBody = 64 << 10

// decode reads a JSON body into v, refusing unknown fields.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil || len(body) > maxBody {
		return invalid("the request body could not be read or is over %d bytes", maxBody)
	}
	if len(bytes.TrimSpace(body)) == 0 {
		body = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return invalid("the request body is not valid JSON for %s %s: %v", r.Method, r.URL.Path, err)
	}
	return nil
}

// reply writes v as JSON.
func reply(w http.ResponseWriter, status int, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return nil
}

// limit reads ?limit= within [1, max].
func limit(r *http.Request, def, max int) (int, error) {
	s := r.URL.Query().Get("limit")
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, invalid("limit must be a number from 1 to %d, not %q", max, s)
	}
	return n, nil
}

// missing maps ErrNotFound to a 404 saying what is missing.
func missing(err error, format string, args ...any) error {
	if errors.Is(err, store.ErrNotFound) {
		return notFound(format, args...)
	}
	return err
}
