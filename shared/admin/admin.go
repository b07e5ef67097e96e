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
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/berth-registry/berth/shared/api"
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

// The API's errors and helpers (shared/api), by their short names here.
var (
	invalid   = api.Invalid
	notFound  = api.NotFound
	conflict  = api.Conflict
	denied    = api.Denied
	missing   = api.Missing
	decode    = api.Decode
	reply     = api.Reply
	noContent = api.NoContent
	intParam  = api.IntParam
	clipped   = api.Clip
)

// Config holds the admin API's settings.
type Config struct {
	// Tenancy is the bootstrap tenancy (BERTH_TENANCY), whose
	// administrators administer every tenancy.
	Tenancy string
	// Now is the clock creation and expiry times are read from (nil:
	// the wall clock); shared/app/adminfn passes the process's one clock.
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
	mux   *api.Mux
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
	a.mux = api.NewMux(log)
	a.Routes(a.mux)
	a.mux.NotFound("/api/", "docs/auth.md")
	return a
}

// ServeHTTP serves the admin API alone (the admin function serves it
// with retention's on one api.Mux: Routes).
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) { a.mux.ServeHTTP(w, r) }

// call is one request's actor and path parameters.
type call struct {
	who                  authz.Actor
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

// Routes adds the admin API's endpoints to m (docs/auth.md lists them).
func (a *API) Routes(m *api.Mux) {
	for pattern, h := range map[string]handlerFunc{
		"GET /api/tenancies":                                          a.listTenancies,
		"POST /api/tenancies":                                         a.createTenancy,
		"GET /api/tenancies/{tenancy}":                                a.getTenancy,
		"GET /api/tenancies/{tenancy}/users":                          a.listUsers,
		"POST /api/tenancies/{tenancy}/users":                         a.createUser,
		"GET /api/tenancies/{tenancy}/users/{user}":                   a.getUser,
		"PUT /api/tenancies/{tenancy}/users/{user}":                   a.putUser,
		"DELETE /api/tenancies/{tenancy}/users/{user}":                a.deleteUser,
		"GET /api/tenancies/{tenancy}/users/{user}/tokens":            a.listTokens,
		"POST /api/tenancies/{tenancy}/users/{user}/tokens":           a.createToken,
		"DELETE /api/tenancies/{tenancy}/users/{user}/tokens/{token}": a.revokeToken,
		"GET /api/tenancies/{tenancy}/groups":                         a.listGroups,
		"POST /api/tenancies/{tenancy}/groups":                        a.createGroup,
		"GET /api/tenancies/{tenancy}/groups/{group}":                 a.getGroup,
		"DELETE /api/tenancies/{tenancy}/groups/{group}":              a.deleteGroup,
		"GET /api/tenancies/{tenancy}/policies":                       a.listPolicies,
		"POST /api/tenancies/{tenancy}/policies":                      a.createPolicy,
		"GET /api/tenancies/{tenancy}/policies/{policy}":              a.getPolicy,
		"PUT /api/tenancies/{tenancy}/policies/{policy}":              a.putPolicy,
		"DELETE /api/tenancies/{tenancy}/policies/{policy}":           a.deletePolicy,
		"GET /api/tenancies/{tenancy}/federation-rules":               a.listRules,
		"POST /api/tenancies/{tenancy}/federation-rules":              a.createRule,
		"GET /api/tenancies/{tenancy}/federation-rules/{rule}":        a.getRule,
		"PUT /api/tenancies/{tenancy}/federation-rules/{rule}":        a.putRule,
		"DELETE /api/tenancies/{tenancy}/federation-rules/{rule}":     a.deleteRule,
		"GET /api/tenancies/{tenancy}/aws-roles":                      a.listMappings,
		"POST /api/tenancies/{tenancy}/aws-roles":                     a.createMapping,
		"GET /api/tenancies/{tenancy}/aws-roles/{mapping}":            a.getMapping,
		"PUT /api/tenancies/{tenancy}/aws-roles/{mapping}":            a.putMapping,
		"DELETE /api/tenancies/{tenancy}/aws-roles/{mapping}":         a.deleteMapping,
		"GET /api/tenancies/{tenancy}/audit":                          a.listAudit,
		"GET /api/tenancies/{tenancy}/usage":                          a.getUsage,
		"GET /api/tenancies/{tenancy}/quota":                          a.getUsage,
		"PUT /api/tenancies/{tenancy}/quota":                          a.putQuota,
		"DELETE /api/tenancies/{tenancy}/quota":                       a.deleteQuota,
		"GET /api/tenancies/{tenancy}/cache-rules":                    a.listCacheRules,
		"POST /api/tenancies/{tenancy}/cache-rules":                   a.createCacheRule,
		"GET /api/tenancies/{tenancy}/cache-rules/{prefix...}":        a.getCacheRule,
		"PATCH /api/tenancies/{tenancy}/cache-rules/{prefix...}":      a.updateCacheRule,
		"DELETE /api/tenancies/{tenancy}/cache-rules/{prefix...}":     a.deleteCacheRule,
		"GET /api/repositories":                                       a.listRepositories,
		"POST /api/repositories":                                      a.createRepository,
		"GET /api/repositories/{repo...}":                             a.getRepository,
		"PATCH /api/repositories/{repo...}":                           a.updateRepository,
		"DELETE /api/repositories/{repo...}":                          a.deleteRepository,
		"POST /api/blobs/verify":                                      a.verifyBlobs,
		"GET /api/images/{image...}":                                  a.getImage,
	} {
		m.Handle(pattern, a.handle(h))
	}
}

// handle runs h with the request's path parameters checked and its
// actor read.
func (a *API) handle(h handlerFunc) api.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		c := &call{
			tenancy: r.PathValue("tenancy"), user: r.PathValue("user"), group: r.PathValue("group"),
			policy: r.PathValue("policy"), token: r.PathValue("token"), rule: r.PathValue("rule"),
			repo: r.PathValue("repo"), cacheRule: r.PathValue("prefix"), mapping: r.PathValue("mapping"),
		}
		if image := r.PathValue("image"); image != "" {
			i := strings.LastIndex(image, "@")
			if i < 0 {
				return invalid("name an image as /api/images/<repository>@<digest>")
			}
			c.repo, c.digest = image[:i], image[i+1:]
		}
		if err := c.check(); err != nil {
			return err
		}
		var err error
		if c.who, err = authz.ActorFrom(r.Context(), a.ids, a.cfg.Tenancy); err != nil {
			return err
		}
		return h(w, r, c)
	}
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

// requireMember refuses a principal outside tenancy t, then a tenancy
// that does not exist.
func (a *API) requireMember(ctx context.Context, c *call) error {
	if !c.who.Member(c.tenancy) {
		return denied("%s may only act in its own tenancy, %s", c.who, c.who.Tenancy)
	}
	return a.tenancyExists(ctx, c.tenancy)
}

// requireAdmin refuses a principal that does not administer tenancy t.
func (a *API) requireAdmin(ctx context.Context, c *call, what string) error {
	if err := a.requireMember(ctx, c); err != nil {
		return err
	}
	if !c.who.Admin(c.tenancy) {
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
func (a *API) record(ctx context.Context, who authz.Actor, tenancy, action, target, detail string) {
	e := authz.NewAuditEvent(a.now(), who.Principal, action, target, detail)
	e.Tenancy = tenancy
	if err := a.ids.AppendAudit(ctx, e); err != nil {
		a.log.WarnContext(ctx, "audit write failed", "action", action, "target", target, "error", err.Error())
	}
}
