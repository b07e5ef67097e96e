package pullthrough

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/store"
)

// Rule limits and defaults (docs/pull-through.md).
const (
	// DefaultRefresh is how long a cached tag is served before the
	// upstream is asked whether it moved, unless a rule says otherwise.
	DefaultRefresh = 15 * time.Minute
	maxRefresh     = 30 * 24 * time.Hour
	// RuleTTL is how long a function instance keeps a tenancy's rules
	// (as the authorizer keeps policies): a new, changed or deleted rule
	// takes effect within it.
	RuleTTL = 10 * time.Second
	// DockerHub is Docker Hub's registry endpoint, which "docker.io"
	// names.
	DockerHub = "https://registry-1.docker.io"
)

// RuleInput is what an administrator writes to create a rule.
type RuleInput struct {
	// Prefix is a repository name in the tenancy ("dev/hub").
	Prefix string `json:"prefix"`
	// Upstream is a registry's URL or host ("docker.io", "ghcr.io",
	// "https://quay.io").
	Upstream string `json:"upstream"`
	// Library maps one-component names to Docker Hub's "library/";
	// unset: on for Docker Hub, off for any other upstream.
	Library *bool `json:"library,omitempty"`
	// RefreshInterval is a Go duration ("15m", "1h"; "0s" asks the
	// upstream on every pull by tag); unset: DefaultRefresh.
	RefreshInterval string `json:"refreshInterval,omitempty"`
	// Credentials log in to the upstream; they are stored sealed and
	// never shown again.
	Credentials *Credentials `json:"credentials,omitempty"`
}

// RulePatch changes what it sets of a rule.
type RulePatch struct {
	Upstream        *string      `json:"upstream,omitempty"`
	Library         *bool        `json:"library,omitempty"`
	RefreshInterval *string      `json:"refreshInterval,omitempty"`
	Credentials     *Credentials `json:"credentials,omitempty"`
	// RemoveCredentials makes the upstream anonymous again.
	RemoveCredentials bool `json:"removeCredentials,omitempty"`
}

// RuleView is a rule as the admin API shows it: whether it has
// credentials, never what they are.
type RuleView struct {
	Tenancy         string    `json:"tenancy"`
	Prefix          string    `json:"prefix"`
	Upstream        string    `json:"upstream"`
	Library         bool      `json:"library"`
	RefreshInterval string    `json:"refreshInterval"`
	Credentials     bool      `json:"credentials"`
	Created         time.Time `json:"created,omitzero"`
	Updated         time.Time `json:"updated,omitzero"`
	Version         int64     `json:"version"`
}

// View is r as the admin API shows it.
func View(r store.CacheRule) RuleView {
	return RuleView{Tenancy: r.Tenancy, Prefix: r.Prefix, Upstream: r.Upstream, Library: r.Library,
		RefreshInterval: r.Refresh.String(), Credentials: len(r.Credentials) > 0,
		Created: r.Created, Updated: r.Updated, Version: r.Version}
}

// Rules reads and writes the cache rules: validation and sealing for
// the admin API, and the lookup (cached for RuleTTL) that tells the
// registry which repositories are caches.
type Rules struct {
	store    store.CacheRules
	sealer   Sealer
	now      func() time.Time
	insecure bool

	mu    sync.Mutex
	rules map[string]rulesEntry
	creds map[string]credsEntry
}

type rulesEntry struct {
	rules []store.CacheRule
	exp   time.Time
}

type credsEntry struct {
	c   Credentials
	exp time.Time
}

// NewRules returns the rules of st, sealing credentials with sealer
// (nil: rules with credentials are refused). insecure allows http://
// upstreams and upstreams on loopback or private addresses (tests and
// local development: BERTH_CACHE_INSECURE).
func NewRules(st store.CacheRules, sealer Sealer, now func() time.Time, insecure bool) *Rules {
	if now == nil {
		now = time.Now
	}
	return &Rules{store: st, sealer: sealer, now: now, insecure: insecure,
		rules: map[string]rulesEntry{}, creds: map[string]credsEntry{}}
}

func invalid(format string, args ...any) error { return errcode.New(errcode.Invalid, format, args...) }

// Create validates in and stores a new rule of tenancy.
func (rs *Rules) Create(ctx context.Context, tenancy string, in RuleInput) (RuleView, error) {
	if err := rs.checkPrefix(tenancy, in.Prefix); err != nil {
		return RuleView{}, err
	}
	up, hub, err := normalizeUpstream(in.Upstream, rs.insecure)
	if err != nil {
		return RuleView{}, err
	}
	now := rs.now().UTC()
	r := store.CacheRule{Tenancy: tenancy, Prefix: in.Prefix, Upstream: up, Library: hub, Refresh: DefaultRefresh,
		Created: now, Updated: now, Version: 1}
	if in.Library != nil {
		r.Library = *in.Library
	}
	if in.RefreshInterval != "" {
		if r.Refresh, err = parseRefresh(in.RefreshInterval); err != nil {
			return RuleView{}, err
		}
	}
	if in.Credentials != nil {
		if r.Credentials, err = rs.seal(ctx, r, *in.Credentials); err != nil {
			return RuleView{}, err
		}
	}
	err = rs.store.PutCacheRule(ctx, r)
	if errors.Is(err, store.ErrExists) {
		return RuleView{}, errcode.New(errcode.Conflict, "a cache rule for %s exists; change it with PATCH", r.Prefix)
	} else if err != nil {
		return RuleView{}, err
	}
	rs.forget(tenancy)
	return View(r), nil
}

// Update applies p to the rule of tenancy at prefix.
func (rs *Rules) Update(ctx context.Context, tenancy, prefix string, p RulePatch) (RuleView, error) {
	r, err := rs.Get(ctx, tenancy, prefix)
	if err != nil {
		return RuleView{}, err
	}
	if p.Upstream != nil {
		if r.Upstream, _, err = normalizeUpstream(*p.Upstream, rs.insecure); err != nil {
			return RuleView{}, err
		}
	}
	if p.Library != nil {
		r.Library = *p.Library
	}
	if p.RefreshInterval != nil {
		if r.Refresh, err = parseRefresh(*p.RefreshInterval); err != nil {
			return RuleView{}, err
		}
	}
	switch {
	case p.Credentials != nil && p.RemoveCredentials:
		return RuleView{}, invalid("set credentials or removeCredentials, not both")
	case p.Credentials != nil:
		if r.Credentials, err = rs.seal(ctx, r, *p.Credentials); err != nil {
			return RuleView{}, err
		}
	case p.RemoveCredentials:
		r.Credentials = nil
	}
	r.Updated, r.Version = rs.now().UTC(), r.Version+1
	if err := rs.store.PutCacheRule(ctx, r); errors.Is(err, store.ErrConflict) {
		return RuleView{}, errcode.New(errcode.Conflict, "the cache rule for %s changed meanwhile; read it and try again", prefix)
	} else if err != nil {
		return RuleView{}, err
	}
	rs.forget(tenancy)
	return View(r), nil
}

// Get returns the rule of tenancy at prefix (NOT_FOUND when absent).
func (rs *Rules) Get(ctx context.Context, tenancy, prefix string) (store.CacheRule, error) {
	r, err := rs.store.GetCacheRule(ctx, tenancy, prefix)
	if errors.Is(err, store.ErrNotFound) {
		return r, errcode.New(errcode.NotFound, "no cache rule for %s in tenancy %s", prefix, tenancy)
	}
	return r, err
}

// List returns a tenancy's rules.
func (rs *Rules) List(ctx context.Context, tenancy string) ([]RuleView, error) {
	rules, err := rs.store.ListCacheRules(ctx, tenancy)
	if err != nil {
		return nil, err
	}
	out := make([]RuleView, 0, len(rules))
	for _, r := range rules {
		out = append(out, View(r))
	}
	return out, nil
}

// Delete removes a rule. The repositories it filled stay, as ordinary
// repositories (pushes may change them again).
func (rs *Rules) Delete(ctx context.Context, tenancy, prefix string) error {
	err := rs.store.DeleteCacheRule(ctx, tenancy, prefix)
	if errors.Is(err, store.ErrNotFound) {
		return errcode.New(errcode.NotFound, "no cache rule for %s in tenancy %s", prefix, tenancy)
	}
	rs.forget(tenancy)
	return err
}

// target is a repository a rule covers: the rule, and the repository's
// name upstream.
type target struct {
	rule store.CacheRule
	name string
}

// cover returns the rule covering repo (the longest prefix), if any.
func (rs *Rules) cover(ctx context.Context, repo string) (target, bool, error) {
	tenancy, _ := auth.SplitRepo(repo)
	if tenancy == "" {
		return target{}, false, nil
	}
	rules, err := rs.of(ctx, tenancy)
	if err != nil {
		return target{}, false, err
	}
	var best *store.CacheRule
	for i, r := range rules {
		if strings.HasPrefix(repo, r.Prefix+"/") && (best == nil || len(r.Prefix) > len(best.Prefix)) {
			best = &rules[i]
		}
	}
	if best == nil {
		return target{}, false, nil
	}
	name := strings.TrimPrefix(repo, best.Prefix+"/")
	if best.Library && !strings.Contains(name, "/") {
		name = "library/" + name
	}
	return target{rule: *best, name: name}, true, nil
}

// of returns a tenancy's rules, read at most once per RuleTTL.
func (rs *Rules) of(ctx context.Context, tenancy string) ([]store.CacheRule, error) {
	rs.mu.Lock()
	e, ok := rs.rules[tenancy]
	rs.mu.Unlock()
	if ok && time.Now().Before(e.exp) {
		return e.rules, nil
	}
	rules, err := rs.store.ListCacheRules(ctx, tenancy)
	if err != nil {
		return nil, err
	}
	rs.mu.Lock()
	if len(rs.rules) > 10000 {
		rs.rules = map[string]rulesEntry{}
	}
	rs.rules[tenancy] = rulesEntry{rules: rules, exp: time.Now().Add(RuleTTL)}
	rs.mu.Unlock()
	return rules, nil
}

// forget drops a tenancy's cached rules, so a change made through this
// process takes effect in it at once.
func (rs *Rules) forget(tenancy string) {
	rs.mu.Lock()
	delete(rs.rules, tenancy)
	rs.mu.Unlock()
}

// credentials opens a rule's credentials (nil for an anonymous
// upstream), kept opened for RuleTTL so a burst of fills costs one
// decryption.
func (rs *Rules) credentials(ctx context.Context, r store.CacheRule) (*Credentials, error) {
	if len(r.Credentials) == 0 {
		return nil, nil
	}
	if rs.sealer == nil {
		return nil, errors.New("a cache rule has credentials and no key is configured to open them")
	}
	k := fmt.Sprintf("%s\x00%s\x00%d", r.Tenancy, r.Prefix, r.Version)
	rs.mu.Lock()
	e, ok := rs.creds[k]
	rs.mu.Unlock()
	if ok && time.Now().Before(e.exp) {
		return &e.c, nil
	}
	c, err := unseal(ctx, rs.sealer, r.Tenancy, r.Prefix, r.Credentials)
	if err != nil {
		return nil, err
	}
	rs.mu.Lock()
	if len(rs.creds) > 1000 {
		rs.creds = map[string]credsEntry{}
	}
	rs.creds[k] = credsEntry{c: c, exp: time.Now().Add(RuleTTL)}
	rs.mu.Unlock()
	return &c, nil
}

func (rs *Rules) seal(ctx context.Context, r store.CacheRule, c Credentials) ([]byte, error) {
	switch {
	case c.Username == "" || c.Password == "":
		return nil, invalid("credentials need a username and a password (or token)")
	case len(c.Username) > 256 || len(c.Password) > 4096:
		return nil, invalid("credentials are at most 256 characters of username and 4096 of password")
	case rs.sealer == nil:
		return nil, invalid("this deployment has no key to seal upstream credentials with (BERTH_CACHE_KEY_ID)")
	}
	return seal(ctx, rs.sealer, r.Tenancy, r.Prefix, c)
}

// checkPrefix refuses a prefix that is not a repository name of the
// tenancy with room below it for an upstream name.
func (rs *Rules) checkPrefix(tenancy, prefix string) error {
	if err := auth.CheckRepository(prefix); err != nil {
		return invalid("prefix: %v", err)
	}
	parts := strings.Split(prefix, "/")
	switch {
	case parts[0] != tenancy:
		return invalid("prefix %q must start with the tenancy, %s/", prefix, tenancy)
	case len(parts) < 2:
		return invalid("prefix %q must name a repository path in the tenancy, such as %s/hub", prefix, tenancy)
	case len(parts) >= oci.MaxComponents:
		return invalid("prefix %q leaves no room for an upstream name: repository names have at most %d components", prefix, oci.MaxComponents)
	}
	return nil
}

// normalizeUpstream turns what an administrator wrote into the
// upstream's base URL, and reports whether it is Docker Hub.
func normalizeUpstream(s string, insecure bool) (string, bool, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", false, invalid("upstream is required: a registry's URL or host, such as docker.io or https://ghcr.io")
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", false, invalid("upstream %q is not a URL", s)
	}
	switch strings.ToLower(u.Hostname()) {
	case "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com":
		if u.Port() == "" && u.Scheme == "https" {
			return DockerHub, true, nil
		}
	}
	switch {
	case u.Scheme != "https" && !(insecure && u.Scheme == "http"):
		return "", false, invalid("upstream %q must be an https URL", s)
	case u.User != nil:
		return "", false, invalid("upstream URL must not hold credentials: set credentials instead")
	case u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "":
		return "", false, invalid("upstream %q must be a registry's base URL (scheme and host, no path): the registry API lives under its /v2/", s)
	}
	if ip, err := netip.ParseAddr(u.Hostname()); !insecure && ((err == nil && !public(ip)) || strings.EqualFold(u.Hostname(), "localhost")) {
		return "", false, invalid("upstream %q is not a public address", s)
	}
	return u.Scheme + "://" + strings.ToLower(u.Host), false, nil
}

func parseRefresh(s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > maxRefresh {
		return 0, invalid("refreshInterval %q must be a duration from 0s to 720h, such as 15m", s)
	}
	return d, nil
}
