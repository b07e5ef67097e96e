// Package registry implements the OCI Distribution API (distribution-spec
// v1.1) as plain http.Handlers, one per Berth function. It knows nothing
// of AWS or Lambda: storage comes in through the store interfaces, and
// the route (with the repository name) from the route package.
package registry

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/route"
	"github.com/berth-registry/berth/shared/store"
)

// Config holds the registry's tunables.
type Config struct {
	// PresignTTL is how long a blob GET's redirect URL stays valid.
	PresignTTL time.Duration
	// InlineManifestMax is the largest manifest kept inline in metadata;
	// larger ones go to object storage.
	InlineManifestMax int
	// ChunkMin and ChunkMax are advertised on upload responses
	// (OCI-Chunk-Min-Length, OCI-Chunk-Max-Length). ChunkMax is the most
	// raw body bytes one request can carry through the gateway.
	ChunkMin, ChunkMax int64
	// UploadTTL is how long an upload session lives after its last
	// request.
	UploadTTL time.Duration
	// VerifyStep is the most bytes of a direct upload one request hashes
	// to verify its digest, and VerifyBudget the most time it spends
	// (direct_verify.go; zero means the default). A larger blob is
	// verified over the status polls that follow.
	VerifyStep   int64
	VerifyBudget time.Duration
	// Now is the clock that push, tag and upload times are read from
	// (nil: the wall clock); shared/app/registryfn passes the process's one clock
	// (shared/clock), so BERTH_TEST_CLOCK moves them with every other
	// recorded time.
	Now func() time.Time
	// RehashMax is the largest blob whose stored bytes a commit re-hashes
	// when it finds the digest recorded already (blobrecord.go; zero
	// means 4 MiB): a larger one is checked by size only, and by
	// `berth blobs verify`.
	RehashMax int64
}

// DefaultConfig fits AWS's limits: a 6 MB invoke payload carries about
// 4.5 MiB of base64-encoded body, so 4 MiB chunks leave room for the
// event's envelope and headers.
func DefaultConfig() Config {
	return Config{
		PresignTTL:        15 * time.Minute,
		InlineManifestMax: 64 << 10,
		ChunkMin:          1 << 20,
		ChunkMax:          4 << 20,
		UploadTTL:         24 * time.Hour,
	}
}

// Store is what the registry keeps its records in: the metadata store
// with the touches that mark blobs a push reuses (blob HEAD, mount,
// commit, manifest push), so that garbage collection keeps them. Both
// of Berth's stores implement it.
type Store interface {
	store.Metadata
	store.BlobTouches
}

// Registry serves the distribution API from a metadata store and a blob
// store.
type Registry struct {
	meta  Store
	blobs store.BlobStore
	cfg   Config
	log   *slog.Logger
	now   func() time.Time
	// policy answers the access questions that go beyond the
	// authorizer's decision (WithPolicy).
	policy Policy
	// audit records pushes, deletes and created repositories
	// (WithAudit).
	audit Auditor
	// pulls counts manifest GETs (WithPulls).
	pulls PullRecorder
	// quota refuses pushes past a tenancy's quota (WithQuota).
	quota Quota
	// up, when set, fills pull-through cached repositories.
	up Upstream
}

// Quota refuses a push that would take a tenancy past its storage
// quota (shared/usage Checker; docs/usage.md).
type Quota interface {
	// Admit returns nil when size more bytes may be stored in repo's
	// tenancy (size 0: when the tenancy is not at its quota already),
	// else the DENIED error to answer.
	Admit(ctx context.Context, repo string, size int64) error
}

// WithQuota checks pushes against tenancies' quotas.
func WithQuota(q Quota) Option { return func(reg *Registry) { reg.quota = q } }

// admit asks the tenancy's quota.
func (reg *Registry) admit(ctx context.Context, repo string, size int64) error {
	return reg.quota.Admit(ctx, repo, size)
}

// Upstream is a pull-through cache (shared/pullthrough): it fills the
// repositories its rules cover from their upstream registries and keeps
// them read-only to pushes. Each method's ok is false when no rule
// covers the repository (then the registry answers as it would without
// one).
type Upstream interface {
	// Guard returns a DENIED error for a push into a repository a rule
	// covers, nil otherwise.
	Guard(ctx context.Context, repo string) error
	// Manifest fetches manifest ref (a tag or digest), missing from
	// repo, from the upstream and stores it as a push would.
	Manifest(ctx context.Context, repo, ref string) (man store.Manifest, ok bool, err error)
	// Refresh re-checks a cached tag (t.Checked set) once its rule's
	// refresh interval has passed, moving it when the upstream's moved.
	// It returns the tag to serve and, when the upstream could not be
	// asked, a Warning header value saying the copy may be stale.
	Refresh(ctx context.Context, t store.Tag) (store.Tag, string, error)
	// Blob answers a GET (head false) or HEAD of blob d missing from
	// repo.
	Blob(ctx context.Context, repo string, d digest.Digest, head bool) (src BlobSource, ok bool, err error)
}

// BlobSource is how a blob a cached repository lacks is served.
type BlobSource struct {
	// Location, when set, is the upstream's own URL for the bytes (its
	// signed storage URL): the client is redirected there while the
	// cache fills asynchronously.
	Location string
	// Size is the blob's size, for a HEAD answered from the upstream.
	Size int64
	// Stored says the blob is in the repository now: serve it as any
	// other.
	Stored bool
}

// WithUpstream makes the registry a pull-through cache where u's rules
// say (docs/pull-through.md).
func WithUpstream(u Upstream) Option { return func(reg *Registry) { reg.up = u } }

// Policy evaluates a principal's access to a repository.
type Policy interface {
	// PrincipalVerb is the strongest verb p holds on repo by policy.
	PrincipalVerb(ctx context.Context, p auth.Principal, repo string) (auth.Verb, error)
}

// Auditor records what principals did (store.Audit's writing half).
type Auditor interface {
	// AppendAudit records an event.
	AppendAudit(ctx context.Context, e store.AuditEvent) error
}

// Option gives the registry a collaborator that not every deployment
// has.
type Option func(*Registry)

// WithLogger logs failures to log (default: slog.Default()).
func WithLogger(log *slog.Logger) Option { return func(r *Registry) { r.log = log } }

// WithPolicy answers the access questions that go beyond the
// authorizer's decision with p: may this principal create a repository,
// which repositories may it list. Without it everything is allowed.
func WithPolicy(p Policy) Option { return func(r *Registry) { r.policy = p } }

// WithAudit records pushes, deletes and created repositories in a.
func WithAudit(a Auditor) Option { return func(r *Registry) { r.audit = a } }

// WithPulls counts manifest GETs with p (for retention), which may add a
// Warning to the response.
func WithPulls(p PullRecorder) Option { return func(r *Registry) { r.pulls = p } }

// New returns a Registry over meta and blobs.
func New(meta Store, blobs store.BlobStore, cfg Config, opts ...Option) *Registry {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	reg := &Registry{meta: meta, blobs: blobs, cfg: cfg, log: slog.Default(), now: now,
		policy: allowAll{}, audit: noAudit{}, pulls: noPulls{}, quota: noQuota{}}
	for _, o := range opts {
		o(reg)
	}
	return reg
}

// allowAll is the policy of a registry without one: every principal may
// do everything the authorizer let through.
type allowAll struct{}

func (allowAll) PrincipalVerb(context.Context, auth.Principal, string) (auth.Verb, error) {
	return auth.Manage, nil
}

// noAudit keeps no trail.
type noAudit struct{}

func (noAudit) AppendAudit(context.Context, store.AuditEvent) error { return nil }

// noQuota admits everything.
type noQuota struct{}

func (noQuota) Admit(context.Context, string, int64) error { return nil }

// noPulls counts nothing.
type noPulls struct{}

func (noPulls) Pulled(context.Context, string, digest.Digest) (string, error) { return "", nil }

// handlerFunc is a handler that returns its error for one place to write.
type handlerFunc func(w http.ResponseWriter, r *http.Request, m route.Match) error

// Handler returns the http.Handler of one function (see route.Functions).
func (reg *Registry) Handler(function string) http.Handler {
	var h handlerFunc
	switch function {
	case route.Base:
		h = reg.base
	case route.Manifests:
		h = reg.manifests
	case route.Blobs:
		h = reg.blobsHandler
	case route.Uploads:
		h = reg.uploads
	case route.Tags:
		h = reg.tags
	case route.Referrers:
		h = reg.referrers
	case route.Catalog:
		h = reg.catalog
	default:
		panic("registry: unknown function " + function)
	}
	return reg.wrap(function, h)
}

func (reg *Registry) wrap(function string, h handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
		m, ok := route.FromContext(r.Context())
		if !ok {
			m, ok = route.Find(r.Method, r.URL.EscapedPath())
		}
		if ok && function == route.Base && m.Route.Function != route.Base {
			// The catch-all's function got a request that resolves to
			// another route (a trailing slash API Gateway did not strip;
			// see route.FromEvent): serve it as that route.
			reg.Handler(m.Route.Function).ServeHTTP(w, r)
			return
		}
		if !ok || m.Route.Function != function {
			errcode.Write(w, r, errcode.New(errcode.Unsupported, "this function does not serve %s %s", r.Method, r.URL.Path).WithStatus(http.StatusNotFound))
			return
		}
		if err := h(w, r, m); err != nil {
			var e *errcode.Error
			if !errors.As(err, &e) {
				reg.log.ErrorContext(r.Context(), "request failed", "function", function,
					"method", r.Method, "path", r.URL.Path, "error", err.Error())
			}
			errcode.Write(w, r, err)
		}
	})
}
