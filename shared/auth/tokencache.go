package auth

import (
	"crypto/sha256"
	"sync"
	"time"
)

// verifiedCap bounds the verified-token cache. An entry is a few hundred
// bytes; a full cache is about a megabyte. Every client that pulls
// through one instance within a token's lifetime holds one entry.
const verifiedCap = 4096

// verified remembers tokens whose signature, issuer, audience and
// algorithm have been checked, by the SHA-256 of the token, until the
// token's expiry. A registry token is a bearer credential checked by
// signature and expiry alone (no storage read, no revocation list:
// config.MaxTokenTTL bounds how long one outlives a revoked auth
// token), so a token that verified once verifies again until it
// expires, and the cache answers as the signature check would: what it
// saves is the ECDSA verification and the JWT decoding, about nine
// tenths of a Bearer request's authorizer time (docs/performance.md).
// Expiry and not-before are checked on every hit against the
// verifier's clock. Only successes are kept: a token that fails is
// checked in full every time.
type verified struct {
	mu sync.Mutex
	m  map[[sha256.Size]byte]*Claims
}

func newVerified() *verified {
	return &verified{m: make(map[[sha256.Size]byte]*Claims)}
}

// get returns a copy of the claims of a token verified before and
// still valid at now.
func (c *verified) get(key [sha256.Size]byte, now time.Time) (*Claims, bool) {
	c.mu.Lock()
	cl, ok := c.m[key]
	c.mu.Unlock()
	if !ok || !valid(cl, now) {
		return nil, false
	}
	cp := *cl
	return &cp, true
}

// valid is the time check jwt's validator makes: before the expiry
// (which every cached token has) and not before its not-before.
func valid(cl *Claims, now time.Time) bool {
	if cl.ExpiresAt == nil || !now.Before(cl.ExpiresAt.Time) {
		return false
	}
	return cl.NotBefore == nil || !now.Before(cl.NotBefore.Time)
}

// put keeps the claims of a token that verified at now. When the cache
// is full it first drops the expired entries, then, if still full,
// arbitrary ones (Go's map order): a dropped token is verified again on
// its next use, nothing worse.
func (c *verified) put(key [sha256.Size]byte, cl *Claims, now time.Time) {
	if cl.ExpiresAt == nil {
		return
	}
	cp := *cl
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= verifiedCap {
		for k, v := range c.m {
			if !now.Before(v.ExpiresAt.Time) {
				delete(c.m, k)
			}
		}
		for k := range c.m {
			if len(c.m) < verifiedCap {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[key] = &cp
}

// len is the number of tokens cached (for tests).
func (c *verified) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
