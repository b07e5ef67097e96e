// Package admin is Berth's admin API (functions/admin, JSON under /api):
// tenancies, users, groups, auth tokens, policies, federation rules
// (keyless logins), repositories, image details and the audit trail.
//
// The authorizer lets any authenticated principal reach /api; this
// package decides what each may do. A principal acts within its own
// tenancy: any member may read the tenancy, its groups and policies, and
// list, create and revoke its own auth tokens; members of the tenancy's
// administrators group manage everything in it. Repositories follow the
// policy verbs (inspect lists, read shows details, manage creates,
// changes and deletes). Administrators of the bootstrap tenancy
// (BERTH_TENANCY) administer every tenancy and alone create tenancies.
package admin

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
	"time"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/pullthrough"
	"github.com/berth-registry/berth/shared/store"
)

// Error codes of the admin API beyond the distribution spec's (kept in
// errcode's one table, shared with the retention API).
const (
	// CodeInvalid refuses a request whose body or parameters are wrong;
	// the message says what to change (400).
	CodeInvalid = errcode.Invalid
	// CodeNotFound answers for a tenancy, user, group, policy or token
	// that does not exist (404).
	CodeNotFound = errcode.NotFound
	// CodeConflict refuses to create what already exists, or to delete
	// what is still in use (409).
	CodeConflict = errcode.Conflict
)

func invalid(format string, args ...any) error { return errcode.New(errcode.Invalid, format, args...) }

func notFound(format string, args ...any) error {
	return errcode.New(errcode.NotFound, format, args...)
}

func conflict(format string, args ...any) error {
	return errcode.New(errcode.Conflict, format, args...)
}

func denied(format string, args ...any) error {
	return errcode.New(errcode.Denied, format, args...)
}

// Config holds the admin API's settings.
type Config struct {
	// Tenancy is the bootstrap tenancy (BERTH_TENANCY), whose
	// administrators administer every tenancy.
	Tenancy string
	// Now is the clock creation and expiry times are read from (nil:
	// the wall clock); shared/app passes the process's one clock.
	Now func() time.Time
	// Stats, when set, gives image details their pulls
	// (store.Activity); nil where the store keeps no statistics.
	Stats store.PullStats
	// OIDCLoopback lets federation rules name http:// issuers on
	// loopback hosts (BERTH_OIDC_LOOPBACK, for tests).
	OIDCLoopback bool
	// Usage, when set, gives repositories and tenancies their stored
	// bytes and tenancies their quotas (docs/usage.md).
	Usage store.UsageStore
	// CacheRules, when set, serves the tenancies' pull-through cache
	// rules; nil where the store keeps none.
	CacheRules *pullthrough.Rules
}

// API serves the admin API.
type API struct {
	ids   store.Identity
	meta  store.Metadata
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	scrub Scrubber
}

// Option adds to the API what not every deployment has.
type Option func(*API)

// WithScrub serves POST /api/blobs/verify with s.
func WithScrub(s Scrubber) Option { return func(a *API) { a.scrub = s } }

// New returns the admin API over the identity and metadata stores. It
// expects to run behind authz.Enforce, which puts the principal in the
// request's context.
func New(ids store.Identity, meta store.Metadata, cfg Config, log *slog.Logger, opts ...Option) *API {
	if log == nil {
		log = slog.Default()
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	a := &API{ids: ids, meta: meta, cfg: cfg, log: log, now: now}
	for _, o := range opts {
		o(a)
	}
	return a
}

// actor is the principal of a request, with its groups read from the
// store (a registry token names its subject, not the subject's groups,
// and the store is fresher than the authorizer's cache).
type actor struct {
	auth.Principal
	// super: an administrator of the bootstrap tenancy.
	super bool
}

// member reports whether the actor may read tenancy t.
func (x actor) member(t string) bool { return x.super || x.Tenancy == t }

// admin reports whether the actor administers tenancy t.
func (x actor) admin(t string) bool { return x.super || (x.Tenancy == t && x.IsAdmin()) }

// call is one request's actor and path parameters.
type call struct {
	who                  actor
	tenancy, user, group string
	policy, token, rule  string
	repo, digest         string
	// cacheRule is a pull-through cache rule's prefix (a repository
	// name).
	cacheRule string
	// mapping is an AWS role mapping's name.
	mapping string
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, c *call) error

// methods maps the methods of one path to their handlers.
type methods map[string]handlerFunc

// ServeHTTP implements http.Handler.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if err := a.serve(w, r); err != nil {
		var e *errcode.Error
		if !errors.As(err, &e) {
			a.log.ErrorContext(r.Context(), "admin request failed", "method", r.Method, "path", r.URL.Path, "error", err.Error())
		}
		errcode.Write(w, r, err)
	}
}

func (a *API) serve(w http.ResponseWriter, r *http.Request) error {
	c := &call{}
	ms, err := a.route(r.URL.Path, c)
	if err != nil {
		return err
	}
	h, ok := ms[r.Method]
	if !ok {
		allow := make([]string, 0, len(ms))
		for m := range ms {
			allow = append(allow, m)
		}
		slices.Sort(allow)
		return errcode.New(errcode.Unsupported, "%s is not supported on %s; use %s", r.Method, r.URL.Path, strings.Join(allow, ", ")).
			WithHeader("Allow", strings.Join(allow, ", "))
	}
	if err := c.check(); err != nil {
		return err
	}
	if c.who, err = a.actor(r.Context()); err != nil {
		return err
	}
	return h(w, r, c)
}

// check validates the names the path gave, before any reaches the store.
func (c *call) check() error {
	for _, n := range []struct {
		v     string
		check func(string) error
	}{
		{c.tenancy, checkTenancyName}, {c.user, checkUserName}, {c.group, checkGroupName},
		{c.policy, checkPolicyName}, {c.repo, checkRepoName}, {c.rule, checkRuleName}, {c.cacheRule, checkRepoName},
		{c.mapping, checkMappingName},
	} {
		if n.v == "" {
			continue
		}
		if err := n.check(n.v); err != nil {
			return err
		}
	}
	if c.token != "" && !auth.ValidTokenID(c.token) {
		return invalid("auth token id %q must be 16 characters of a-z and 2-7 (the id in bt_<id>_<secret>)", clipped(c.token))
	}
	return nil
}

// clipped shortens a value quoted in a message.
func clipped(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// route finds the handlers of a path, filling in c's parameters.
func (a *API) route(path string, c *call) (methods, error) {
	rest, ok := strings.CutPrefix(path, "/api/")
	s := strings.Split(strings.TrimSuffix(rest, "/"), "/")
	if !ok || slices.Contains(s, "") {
		return nil, notFound("no admin API endpoint at %s; see docs/auth.md", path)
	}
	switch {
	case s[0] == "tenancies" && len(s) == 1:
		return methods{"GET": a.listTenancies, "POST": a.createTenancy}, nil
	case s[0] == "tenancies" && len(s) == 2:
		c.tenancy = s[1]
		return methods{"GET": a.getTenancy}, nil
	case s[0] == "tenancies":
		c.tenancy = s[1]
		return a.tenancyRoute(s[2:], c)
	case s[0] == "repositories" && len(s) == 1:
		return methods{"GET": a.listRepositories, "POST": a.createRepository}, nil
	case s[0] == "repositories":
		c.repo = strings.Join(s[1:], "/")
		return methods{"GET": a.getRepository, "PATCH": a.updateRepository, "DELETE": a.deleteRepository}, nil
	case len(s) == 2 && s[0] == "blobs" && s[1] == "verify":
		return methods{"POST": a.verifyBlobs}, nil
	case s[0] == "images" && len(s) > 1:
		ref := strings.Join(s[1:], "/")
		i := strings.LastIndex(ref, "@")
		if i < 0 {
			return nil, invalid("name an image as /api/images/<repository>@<digest>")
		}
		c.repo, c.digest = ref[:i], ref[i+1:]
		return methods{"GET": a.getImage}, nil
	}
	return nil, notFound("no admin API endpoint at %s; see docs/auth.md", path)
}

// tenancyRoute routes the paths under /api/tenancies/{t}/.
func (a *API) tenancyRoute(s []string, c *call) (methods, error) {
	switch {
	case s[0] == "users" && len(s) == 1:
		return methods{"GET": a.listUsers, "POST": a.createUser}, nil
	case s[0] == "users" && len(s) == 2:
		c.user = s[1]
		return methods{"GET": a.getUser, "PUT": a.putUser, "DELETE": a.deleteUser}, nil
	case s[0] == "users" && len(s) == 3 && s[2] == "tokens":
		c.user = s[1]
		return methods{"GET": a.listTokens, "POST": a.createToken}, nil
	case s[0] == "users" && len(s) == 4 && s[2] == "tokens":
		c.user, c.token = s[1], s[3]
		return methods{"DELETE": a.revokeToken}, nil
	case s[0] == "groups" && len(s) == 1:
		return methods{"GET": a.listGroups, "POST": a.createGroup}, nil
	case s[0] == "groups" && len(s) == 2:
		c.group = s[1]
		return methods{"GET": a.getGroup, "DELETE": a.deleteGroup}, nil
	case s[0] == "policies" && len(s) == 1:
		return methods{"GET": a.listPolicies, "POST": a.createPolicy}, nil
	case s[0] == "policies" && len(s) == 2:
		c.policy = s[1]
		return methods{"GET": a.getPolicy, "PUT": a.putPolicy, "DELETE": a.deletePolicy}, nil
	case s[0] == "federation-rules" && len(s) == 1:
		return methods{"GET": a.listRules, "POST": a.createRule}, nil
	case s[0] == "federation-rules" && len(s) == 2:
		c.rule = s[1]
		return methods{"GET": a.getRule, "PUT": a.putRule, "DELETE": a.deleteRule}, nil
	case s[0] == "aws-roles" && len(s) == 1:
		return methods{"GET": a.listMappings, "POST": a.createMapping}, nil
	case s[0] == "aws-roles" && len(s) == 2:
		c.mapping = s[1]
		return methods{"GET": a.getMapping, "PUT": a.putMapping, "DELETE": a.deleteMapping}, nil
	case s[0] == "audit" && len(s) == 1:
		return methods{"GET": a.listAudit}, nil
	case s[0] == "usage" && len(s) == 1:
		return methods{"GET": a.getUsage}, nil
	case s[0] == "quota" && len(s) == 1:
		return methods{"GET": a.getUsage, "PUT": a.putQuota, "DELETE": a.deleteQuota}, nil
	case s[0] == "cache-rules" && len(s) == 1:
		return methods{"GET": a.listCacheRules, "POST": a.createCacheRule}, nil
	case s[0] == "cache-rules":
		c.cacheRule = strings.Join(s[1:], "/")
		return methods{"GET": a.getCacheRule, "PATCH": a.updateCacheRule, "DELETE": a.deleteCacheRule}, nil
	}
	return nil, notFound("no admin API endpoint at /api/tenancies/%s/%s; see docs/auth.md", c.tenancy, strings.Join(s, "/"))
}

// actor reads the request's principal from the enforced decision and its
// groups from the store.
func (a *API) actor(ctx context.Context) (actor, error) {
	d, ok := authz.DecisionFrom(ctx)
	if !ok || d.Principal.Anonymous() {
		return actor{}, errcode.New(errcode.Unauthorized, "the admin API needs credentials: Basic <tenancy>/<user> with an auth token")
	}
	p := d.Principal
	u, err := a.ids.GetUser(ctx, p.Tenancy, p.User)
	if errors.Is(err, store.ErrNotFound) {
		return actor{}, errcode.New(errcode.Unauthorized, "user %s no longer exists", p)
	} else if err != nil {
		return actor{}, err
	}
	p.Groups = append([]string{}, u.Groups...)
	return actor{Principal: p, super: p.Tenancy == a.cfg.Tenancy && p.IsAdmin()}, nil
}

// requireMember refuses a principal outside tenancy t, then a tenancy
// that does not exist.
func (a *API) requireMember(ctx context.Context, c *call) error {
	if !c.who.member(c.tenancy) {
		return denied("%s may only act in its own tenancy, %s", c.who, c.who.Tenancy)
	}
	return a.tenancyExists(ctx, c.tenancy)
}

// requireAdmin refuses a principal that does not administer tenancy t.
func (a *API) requireAdmin(ctx context.Context, c *call, what string) error {
	if err := a.requireMember(ctx, c); err != nil {
		return err
	}
	if !c.who.admin(c.tenancy) {
		return denied("%s may not %s: that needs membership of the %s group of tenancy %s", c.who, what, auth.AdminGroup, c.tenancy)
	}
	return nil
}

func (a *API) tenancyExists(ctx context.Context, t string) error {
	if _, err := a.ids.GetTenancy(ctx, t); errors.Is(err, store.ErrNotFound) {
		return notFound("tenancy %q does not exist", t)
	} else if err != nil {
		return err
	}
	return nil
}

// record appends an audit event to a tenancy's trail; a failure is
// logged, not answered (the change itself was made).
func (a *API) record(ctx context.Context, who actor, tenancy, action, target, detail string) {
	e := authz.NewAuditEvent(who.Principal, action, target, detail)
	e.Tenancy = tenancy
	if err := a.ids.AppendAudit(ctx, e); err != nil {
		a.log.WarnContext(ctx, "audit write failed", "action", action, "target", target, "error", err.Error())
	}
}

// maxBody bounds a request body; nothing the API takes comes near it.
const maxBody = 64 << 10

// decode reads a JSON body into v, refusing unknown fields so that a
// misspelt field is an error rather than silently ignored.
func decode(r *http.Request, v any) error {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return invalid("could not read the request body")
	}
	if len(body) > maxBody {
		return invalid("the request body is over %d bytes", maxBody)
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if errors.Is(err, io.EOF) {
			return invalid("the request needs a JSON body")
		}
		return invalid("the request body is not valid JSON for %s %s: %v", r.Method, r.URL.Path, err)
	}
	if dec.More() {
		return invalid("the request body holds more than one JSON value")
	}
	return nil
}

// reply writes v as JSON with the given status.
func reply(w http.ResponseWriter, status int, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // "<tenancy>/<name>" reads better unescaped
	if err := enc.Encode(v); err != nil {
		return err
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b)
	return nil
}

// noContent answers a successful DELETE.
func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// intParam reads an optional integer query parameter within [1, max].
func intParam(r *http.Request, name string, def, max int) (int, error) {
	s := r.URL.Query().Get(name)
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > max {
		return 0, invalid("%s must be a number from 1 to %d, not %q", name, max, s)
	}
	return n, nil
}

// missing maps a store's ErrNotFound to a 404 saying what is missing.
func missing(err error, format string, args ...any) error {
	if errors.Is(err, store.ErrNotFound) {
		return notFound(format, args...)
	}
	return err
}
