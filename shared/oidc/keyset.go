package oidc

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Key set cache lifetimes (wall clock: they time the cache, not
// records). Keys are kept an hour, so a rotation at the issuer is seen
// at the latest then, and at once when a token names a key id the
// cache lacks — but a refetch happens at most every RefreshEvery (10 s
// by default) per issuer, so tokens with made-up key ids cannot make
// Berth hammer an issuer (or be slowed by it).
const (
	keysTTL             = time.Hour
	defaultRefreshEvery = 10 * time.Second
	// staleFor keeps serving known keys while the issuer cannot be
	// reached: an outage there does not stop logins with tokens signed
	// by keys already seen.
	staleFor = 24 * time.Hour
)

// keySet is one issuer's keys.
type keySet struct {
	trust   Trust
	refresh time.Duration

	mu      sync.Mutex // held while fetching: one fetch per issuer at a time
	keys    map[string]jwk
	fetched time.Time // last success
	tried   time.Time // last attempt
	err     error     // last attempt's failure, nil after a success
}

// key returns the key a token's header names (kid, alg), fetching the
// issuer's keys when the cache is empty or old, or lacks the kid and
// was not refreshed in the last s.refresh.
func (s *keySet) key(ctx context.Context, f *fetcher, kid, alg string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	k, found := s.lookup(kid, alg)
	fresh := !s.fetched.IsZero() && now.Sub(s.fetched) < keysTTL
	if found && fresh {
		return k, nil
	}
	if s.tried.IsZero() || now.Sub(s.tried) >= s.refresh {
		s.tried = now
		keys, err := f.keys(ctx, s.trust)
		if err == nil {
			s.keys, s.fetched, s.err = keys, now, nil
		} else {
			s.err = err
		}
		k, found = s.lookup(kid, alg)
	}
	switch {
	case found && now.Sub(s.fetched) < staleFor:
		return k, nil
	case s.err != nil:
		// The key may be new and the issuer unreachable: not the
		// token's fault.
		return nil, s.err
	case kid == "":
		return nil, fmt.Errorf("%w: the token names no key id and the issuer has more than one %s key", ErrSignature, alg)
	}
	return nil, fmt.Errorf("%w: the issuer has no %s key with id %q", ErrSignature, alg, kid)
}

// lookup finds a key by id (or the only one for alg when the token
// names none) that verifies alg.
func (s *keySet) lookup(kid, alg string) (any, bool) {
	if kid != "" {
		k, ok := s.keys[kid]
		if !ok || !k.allows(alg) {
			return nil, false
		}
		return k.key, true
	}
	var only any
	n := 0
	for _, k := range s.keys {
		if k.allows(alg) {
			only = k.key
			n++
		}
	}
	return only, n == 1
}
