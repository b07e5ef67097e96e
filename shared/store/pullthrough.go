package store

import (
	"context"
	"time"
)

// CacheRule makes the repositories below a prefix of a tenancy a
// pull-through cache of an upstream registry (docs/pull-through.md).
type CacheRule struct {
	Tenancy string `json:"tenancy"`
	// Prefix is a repository name in the tenancy ("dev/hub"); the rule
	// covers the repositories below it, each the upstream repository of
	// the rest of its name ("dev/hub/library/alpine" is
	// "library/alpine" upstream).
	Prefix string `json:"prefix"`
	// Upstream is the upstream registry's base URL
	// ("https://registry-1.docker.io"), fixed by the rule: nothing a
	// client sends picks what is fetched.
	Upstream string `json:"upstream"`
	// Library maps a one-component name to Docker Hub's "library/"
	// ("dev/hub/alpine" is "library/alpine" upstream).
	Library bool `json:"library,omitempty"`
	// Refresh is how long a cached tag is served before the upstream is
	// asked (one HEAD) whether it moved.
	Refresh time.Duration `json:"refresh"`
	// Credentials is the upstream login, sealed (encrypted with the
	// deployment's key, bound to the tenancy and prefix); empty for an
	// anonymous upstream. No API returns it.
	Credentials []byte    `json:"credentials,omitempty"`
	Created     time.Time `json:"created,omitzero"`
	Updated     time.Time `json:"updated,omitzero"`
	// Version increases with every write; PutCacheRule is conditional
	// on it.
	Version int64 `json:"version"`
}

// Fill is a claim on fetching one piece of content of a cached
// repository from its upstream: of all the requests that miss it at
// once, the one whose ClaimFill wins fetches, and the others wait for
// what it stores (or follow Location). A claim that outlives Expires
// (its holder died) no longer counts.
type Fill struct {
	Repo string `json:"repo"`
	// Ref is what is fetched: a blob's or manifest's digest, or a tag as
	// "tag:<name>".
	Ref string `json:"ref"`
	// Owner is the claimant's random id.
	Owner string `json:"owner"`
	// Location is where the upstream redirected the blob's GET (its
	// signed storage URL), once the holder knows it.
	Location string    `json:"location,omitempty"`
	Started  time.Time `json:"started,omitzero"`
	Expires  time.Time `json:"expires,omitzero"`
}

// CacheRules holds the pull-through cache rules of tenancies.
type CacheRules interface {
	// PutCacheRule stores r if the stored version is r.Version-1 (0:
	// absent), and returns ErrConflict (or ErrExists, creating)
	// otherwise.
	PutCacheRule(ctx context.Context, r CacheRule) error
	// GetCacheRule returns a rule or ErrNotFound.
	GetCacheRule(ctx context.Context, tenancy, prefix string) (CacheRule, error)
	// ListCacheRules returns a tenancy's rules by prefix.
	ListCacheRules(ctx context.Context, tenancy string) ([]CacheRule, error)
	// DeleteCacheRule removes a rule; ErrNotFound if absent.
	DeleteCacheRule(ctx context.Context, tenancy, prefix string) error
}

// Fills holds the claims of pull-through fills in progress. Times are
// compared against the store's clock.
type Fills interface {
	// ClaimFill stores f unless a claim on (f.Repo, f.Ref) exists that
	// has not expired (ErrExists).
	ClaimFill(ctx context.Context, f Fill) error
	// GetFill returns the claim on (repo, ref), or ErrNotFound when there
	// is none or it expired.
	GetFill(ctx context.Context, repo, ref string) (Fill, error)
	// UpdateFill replaces the claim on (f.Repo, f.Ref) if f.Owner holds
	// it; ErrConflict otherwise (absent included).
	UpdateFill(ctx context.Context, f Fill) error
	// ReleaseFill removes the claim on (repo, ref) if owner holds it;
	// ErrConflict otherwise (absent included).
	ReleaseFill(ctx context.Context, repo, ref, owner string) error
}

// Cache is everything the pull-through cache stores beside Metadata
// (in the same table).
type Cache interface {
	CacheRules
	Fills
}
