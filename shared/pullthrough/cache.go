// Package pullthrough is Berth's pull-through cache (docs/pull-through.md):
// per-tenancy rules map a repository prefix to an upstream registry, and
// a pull of content a cached repository lacks fetches it from the
// upstream — manifests in the request, blobs within Lambda's limits
// (the upstream's own signed URL handed to the client at once, the
// cache filled asynchronously) — storing it as a push would. Every fill
// verifies its digest; of the requests that miss the same content at
// once, one fetches (a conditional claim in metadata, store.Fills).
//
// The registry calls it through registry.Upstream; it knows nothing of
// AWS or Lambda (the asynchronous fill is a Dispatcher).
package pullthrough

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/registry"
	"github.com/berth-registry/berth/shared/store"
)

// Stores are what the cache reads and writes.
type Stores struct {
	Meta  store.Metadata
	Fills store.Fills
	Blobs store.BlobStore
	// Touch, when set (where garbage collection runs), is used as a
	// commit uses it (shared/content).
	Touch store.BlobTouches
	// Audit, when set, records every fill.
	Audit store.Audit
}

// Config tunes the cache; zero values take the defaults.
type Config struct {
	// InlineManifestMax is the registry's: larger manifests go to
	// object storage.
	InlineManifestMax int
	// SmallBlob is the largest blob fetched within the request when the
	// upstream serves bytes rather than a redirect (default 4 MiB).
	SmallBlob int64
	// PartSize is a fill's multipart part size (default 8 MiB: the
	// memory a fill holds).
	PartSize int64
	// Wait is the longest a request waits for another's fill before
	// answering 503 with Retry-After (default 20 s, under the gateway's
	// 30 s; a request's own deadline shortens it).
	Wait time.Duration
	// Poll is how often a waiting request looks (default 100 ms).
	Poll time.Duration
	// FillTimeout is the claim an asynchronous fill holds (default 15
	// minutes, Lambda's longest invocation): a fill that dies is taken
	// over after it.
	FillTimeout time.Duration
	// Insecure allows http:// upstreams and addresses that are not
	// public (tests and local development only).
	Insecure bool
	// Now is the clock fills are stamped with (nil: the wall clock).
	Now func() time.Time
}

func (c *Config) defaults() {
	if c.InlineManifestMax == 0 {
		c.InlineManifestMax = 64 << 10
	}
	if c.SmallBlob == 0 {
		c.SmallBlob = 4 << 20
	}
	if c.PartSize < store.MinPartSize {
		c.PartSize = 8 << 20
	}
	if c.Wait == 0 {
		c.Wait = 20 * time.Second
	}
	if c.Poll == 0 {
		c.Poll = 100 * time.Millisecond
	}
	if c.FillTimeout == 0 {
		c.FillTimeout = 15 * time.Minute
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// claimTTL is the claim a fill within a request holds.
const claimTTL = time.Minute

// Dispatcher runs fills asynchronously: on AWS an asynchronous
// invocation of the fill function (shared/backend), in Lambda mode the
// same through its emulated Invoke API. Without one, the cache runs
// fills in goroutines of its own process (berth serve).
type Dispatcher interface {
	// DispatchFill hands j to run; it returns once the job is queued.
	DispatchFill(ctx context.Context, j Job) error
}

// Cache fills cached repositories from their upstreams. It implements
// registry.Upstream.
type Cache struct {
	st       Stores
	rules    *Rules
	dispatch Dispatcher
	cfg      Config
	log      *slog.Logger
	http     *http.Client
	tokens   tokens
	inflight sync.WaitGroup
	// closing ends the fills running in this process (Close).
	closing context.Context
	stop    context.CancelFunc
}

var _ registry.Upstream = (*Cache)(nil)

// New returns the cache over st and rules; d runs asynchronous fills
// (nil: in this process).
func New(st Stores, rules *Rules, d Dispatcher, cfg Config, log *slog.Logger) *Cache {
	cfg.defaults()
	if log == nil {
		log = slog.Default()
	}
	closing, stop := context.WithCancel(context.Background())
	return &Cache{st: st, rules: rules, dispatch: d, cfg: cfg, log: log, closing: closing, stop: stop,
		http: &http.Client{
			Transport: transport(cfg.Insecure),
			// Redirects are the cache's to judge (blob GETs: handed to
			// the client, or followed by a fill after checkURL).
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}}
}

// Wait waits for the fills running in this process (none where a
// Dispatcher runs them) to end.
func (c *Cache) Wait() { c.inflight.Wait() }

// Close stops the fills running in this process and waits for them: a
// stopped fill stores nothing, and its claim lapses for the next pull
// to take.
func (c *Cache) Close() {
	c.stop()
	c.inflight.Wait()
}

// Guard refuses a push into a repository a cache rule covers.
func (c *Cache) Guard(ctx context.Context, repo string) error {
	t, ok, err := c.rules.cover(ctx, repo)
	if err != nil || !ok {
		return err
	}
	return errcode.New(errcode.Denied, "repository %s is a pull-through cache of %s (cache rule %s): pushes may not change it; push to a repository outside %s/",
		repo, t.rule.Upstream, t.rule.Prefix, t.rule.Prefix)
}

// upstream returns the upstream repository of t, with the rule's
// credentials opened.
func (c *Cache) upstream(ctx context.Context, t target) (*upstream, error) {
	base, err := url.Parse(t.rule.Upstream)
	if err != nil {
		return nil, fmt.Errorf("cache rule %s: upstream %q: %w", t.rule.Prefix, t.rule.Upstream, err)
	}
	creds, err := c.rules.credentials(ctx, t.rule)
	if err != nil {
		return nil, err
	}
	return &upstream{base: base, name: t.name, creds: creds, http: c.http, tokens: &c.tokens, insecure: c.cfg.Insecure}, nil
}

// deadline is when a request stops waiting for another's fill.
func (c *Cache) deadline(ctx context.Context) time.Time {
	d := time.Now().Add(c.cfg.Wait)
	if dl, ok := ctx.Deadline(); ok && dl.Add(-time.Second).Before(d) {
		d = dl.Add(-time.Second)
	}
	return d
}

// sleep waits one poll, or returns false when the deadline comes first.
func (c *Cache) sleep(ctx context.Context, deadline time.Time) bool {
	if time.Now().Add(c.cfg.Poll).After(deadline) {
		return false
	}
	select {
	case <-ctx.Done():
		return false
	case <-time.After(c.cfg.Poll):
		return true
	}
}

// stillFilling is the answer to a request that waited in vain.
func stillFilling(what string) error {
	return errcode.New(errcode.Unavailable, "%s is being fetched from the upstream by another request; retry shortly", what).
		WithHeader("Retry-After", "5")
}

// claim is a new claim of c's on (repo, ref) lasting ttl.
func (c *Cache) claim(repo, ref string, ttl time.Duration) store.Fill {
	now := c.cfg.Now().UTC()
	return store.Fill{Repo: repo, Ref: ref, Owner: newOwner(), Started: now, Expires: now.Add(ttl)}
}

// release gives a claim back; a claim taken over meanwhile is not ours
// to release, which is no error.
func (c *Cache) release(ctx context.Context, f store.Fill) {
	err := c.st.Fills.ReleaseFill(context.WithoutCancel(ctx), f.Repo, f.Ref, f.Owner)
	if err != nil && !errors.Is(err, store.ErrConflict) {
		c.log.WarnContext(ctx, "releasing a fill claim failed", "repository", f.Repo, "ref", f.Ref, "error", err.Error())
	}
}

func newOwner() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// record appends an audit event for a fill to the repository's tenancy.
func (c *Cache) record(ctx context.Context, by auth.Principal, action, target, detail string) {
	if c.st.Audit == nil {
		return
	}
	e := authz.NewAuditEvent(c.cfg.Now(), by, action, target, detail)
	e.Tenancy, _ = auth.SplitRepo(target)
	if err := c.st.Audit.AppendAudit(ctx, e); err != nil {
		c.log.WarnContext(ctx, "audit write failed", "action", action, "target", target, "error", err.Error())
	}
}

// requester is the principal a request acts for (anonymous outside one).
func requester(ctx context.Context) auth.Principal {
	d, _ := authz.DecisionFrom(ctx)
	return d.Principal
}

// clientError turns an upstream failure into what the client is told:
// the kind of failure and the upstream's status, never internal text
// (the caller logs the error itself).
func clientError(err error, notFound errcode.Code, what string) error {
	var e *errcode.Error
	if errors.As(err, &e) {
		return e
	}
	status := ""
	if i := strings.LastIndex(err.Error(), "(HTTP "); i >= 0 && strings.HasSuffix(err.Error(), ")") {
		status = " " + err.Error()[i:]
	}
	switch {
	case errors.Is(err, errNotFound):
		return errcode.New(notFound, "%s is not in the upstream%s", what, status)
	case errors.Is(err, errRefused):
		return errcode.New(notFound, "%s: the upstream refused Berth's request%s (it does not exist there, or the cache rule's credentials may not read it)", what, status)
	case errors.Is(err, errThrottled):
		return errcode.New(errcode.TooManyRequests, "%s: the upstream is limiting Berth's requests%s; retry later", what, status).WithHeader("Retry-After", "60")
	}
	return errcode.New(errcode.Unavailable, "%s is not cached and the upstream could not be reached%s; retry later", what, status).
		WithStatus(http.StatusBadGateway)
}
