package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/store"
)

// CacheStore is a store holding content and pull-through cache state in
// one table, as every implementation does.
type CacheStore interface {
	store.Metadata
	store.Cache
}

// Cache runs the contract suite for store.Cache. open is called once
// per subtest; it may return a fresh store or a shared one.
func Cache(t *testing.T, open func(t *testing.T) CacheStore) {
	for _, tc := range cacheTests {
		t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
	}
}

type cacheTest struct {
	name string
	run  func(t *testing.T, s CacheStore)
}

func newFill(t *testing.T, owner string, ttl time.Duration) store.Fill {
	now := ms()
	return store.Fill{Repo: unique(t, "t/hub/lib"), Ref: randomDigest(t).String(), Owner: owner, Started: now, Expires: now.Add(ttl)}
}

var cacheTests = []cacheTest{
	{"PutCacheRule creates at version 1, then only from the stored version", func(t *testing.T, s CacheStore) {
		ten := unique(t, "t")
		r := store.CacheRule{Tenancy: ten, Prefix: ten + "/hub", Upstream: "https://registry-1.docker.io", Library: true,
			Refresh: time.Hour, Credentials: []byte{1, 2, 3}, Created: ms(), Updated: ms(), Version: 1}
		must(t, "create", s.PutCacheRule(ctx(t), r))
		wantErr(t, "create again", s.PutCacheRule(ctx(t), r), store.ErrExists)
		got, err := s.GetCacheRule(ctx(t), ten, r.Prefix)
		must(t, "get", err)
		if got.Upstream != r.Upstream || !got.Library || got.Refresh != time.Hour || !slices.Equal(got.Credentials, r.Credentials) || got.Version != 1 || !got.Created.Equal(r.Created) {
			t.Fatalf("got %+v, want %+v", got, r)
		}
		r.Version, r.Refresh = 2, time.Minute
		must(t, "update from 1", s.PutCacheRule(ctx(t), r))
		wantErr(t, "update from 1 again", s.PutCacheRule(ctx(t), r), store.ErrConflict)
		absent := r
		absent.Prefix = ten + "/other"
		wantErr(t, "update an absent rule", s.PutCacheRule(ctx(t), absent), store.ErrConflict)
		if got, _ := s.GetCacheRule(ctx(t), ten, r.Prefix); got.Refresh != time.Minute || got.Version != 2 {
			t.Fatalf("after update: %+v", got)
		}
	}},
	{"ListCacheRules lists one tenancy's rules by prefix; DeleteCacheRule removes one", func(t *testing.T, s CacheStore) {
		ten := unique(t, "t")
		for _, p := range []string{"/quay", "/hub", "/ghcr/io"} {
			must(t, "put "+p, s.PutCacheRule(ctx(t), store.CacheRule{Tenancy: ten, Prefix: ten + p, Upstream: "https://x.example", Version: 1}))
		}
		must(t, "put elsewhere", s.PutCacheRule(ctx(t), store.CacheRule{Tenancy: ten + "x", Prefix: ten + "x/hub", Upstream: "https://x.example", Version: 1}))
		got, err := s.ListCacheRules(ctx(t), ten)
		must(t, "list", err)
		var prefixes []string
		for _, r := range got {
			prefixes = append(prefixes, r.Prefix)
		}
		if want := []string{ten + "/ghcr/io", ten + "/hub", ten + "/quay"}; !slices.Equal(prefixes, want) {
			t.Fatalf("listed %v, want %v", prefixes, want)
		}
		must(t, "delete", s.DeleteCacheRule(ctx(t), ten, ten+"/hub"))
		wantErr(t, "delete again", s.DeleteCacheRule(ctx(t), ten, ten+"/hub"), store.ErrNotFound)
		_, err = s.GetCacheRule(ctx(t), ten, ten+"/hub")
		wantErr(t, "get deleted", err, store.ErrNotFound)
	}},
	{"a claim is held until its owner releases it", func(t *testing.T, s CacheStore) {
		f := newFill(t, "a", time.Minute)
		must(t, "claim", s.ClaimFill(ctx(t), f))
		other := f
		other.Owner = "b"
		wantErr(t, "claim held", s.ClaimFill(ctx(t), other), store.ErrExists)
		wantErr(t, "update by another", s.UpdateFill(ctx(t), other), store.ErrConflict)
		wantErr(t, "release by another", s.ReleaseFill(ctx(t), f.Repo, f.Ref, "b"), store.ErrConflict)
		f.Location = "https://storage.example/blob?sig=1"
		must(t, "update by owner", s.UpdateFill(ctx(t), f))
		got, err := s.GetFill(ctx(t), f.Repo, f.Ref)
		must(t, "get", err)
		if got.Owner != "a" || got.Location != f.Location || !got.Expires.Equal(f.Expires) {
			t.Fatalf("got %+v, want %+v", got, f)
		}
		must(t, "release", s.ReleaseFill(ctx(t), f.Repo, f.Ref, "a"))
		_, err = s.GetFill(ctx(t), f.Repo, f.Ref)
		wantErr(t, "get released", err, store.ErrNotFound)
		wantErr(t, "release again", s.ReleaseFill(ctx(t), f.Repo, f.Ref, "a"), store.ErrConflict)
		wantErr(t, "update released", s.UpdateFill(ctx(t), f), store.ErrConflict)
		must(t, "claim after release", s.ClaimFill(ctx(t), other))
	}},
	{"an expired claim counts as none", func(t *testing.T, s CacheStore) {
		f := newFill(t, "dead", -time.Second)
		must(t, "claim (already expired)", s.ClaimFill(ctx(t), f))
		_, err := s.GetFill(ctx(t), f.Repo, f.Ref)
		wantErr(t, "get expired", err, store.ErrNotFound)
		next := f
		next.Owner, next.Expires = "live", ms().Add(time.Minute)
		must(t, "claim over an expired one", s.ClaimFill(ctx(t), next))
		if got, err := s.GetFill(ctx(t), f.Repo, f.Ref); err != nil || got.Owner != "live" {
			t.Fatalf("get: %+v, %v", got, err)
		}
		wantErr(t, "the dead owner's release", s.ReleaseFill(ctx(t), f.Repo, f.Ref, "dead"), store.ErrConflict)
	}},
	{"claims are per repository and reference", func(t *testing.T, s CacheStore) {
		f := newFill(t, "a", time.Minute)
		must(t, "claim", s.ClaimFill(ctx(t), f))
		otherRepo, otherRef := f, f
		otherRepo.Repo, otherRef.Ref = f.Repo+"x", "tag:latest"
		must(t, "claim another repository's", s.ClaimFill(ctx(t), otherRepo))
		must(t, "claim another reference", s.ClaimFill(ctx(t), otherRef))
	}},
	{"concurrent ClaimFill of one blob → exactly one succeeds", func(t *testing.T, s CacheStore) {
		f := newFill(t, "", time.Minute)
		errs := race(func(i int) error {
			c := f
			c.Owner = string(rune('a' + i))
			return s.ClaimFill(ctx(t), c)
		})
		w := oneWinner(t, errs, store.ErrExists)
		if got, err := s.GetFill(ctx(t), f.Repo, f.Ref); err != nil || got.Owner != string(rune('a'+w)) {
			t.Fatalf("the claim is %+v (%v), want racer %d's", got, err, w)
		}
	}},
	{"a cached tag keeps when its upstream last confirmed it", func(t *testing.T, s CacheStore) {
		tag := newTag(t, unique(t, "t/hub/lib"), "3")
		tag.Checked = ms()
		must(t, "PutTag", s.PutTag(ctx(t), tag))
		got, err := s.GetTag(ctx(t), tag.Repo, tag.Name)
		must(t, "GetTag", err)
		if !got.Checked.Equal(tag.Checked) {
			t.Fatalf("Checked = %v, want %v", got.Checked, tag.Checked)
		}
	}},
}
