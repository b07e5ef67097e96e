package race

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
)

// corrupt pushes b to repo and then overwrites the object its record
// names with other bytes of the same size, as a version before the
// state machines (or anything else with access to the bucket) could
// have left it. It returns the digest and the bad object's key.
func (e *env) corrupt(t testing.TB, repo string, b []byte) (digest.Digest, string) {
	t.Helper()
	ctx := context.Background()
	d := e.pushBlob(t, repo, b)
	rec, err := e.local.Stores.Meta.GetBlob(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.local.Stores.Blobs.Put(ctx, rec.Key, random(len(b))); err != nil {
		t.Fatal(err)
	}
	return d, rec.Key
}

// TestHealRepointsOtherRepositories: repository A links digest D whose
// object was corrupted, and repository C mounted it from A; a push of
// D's true bytes to B heals the record (shared/content). Pulls of D from
// A and C must then serve the true bytes: their links named the bad
// object, and a blob GET reads only the link.
func TestHealRepointsOtherRepositories(t *testing.T) {
	const a, b, c = "dev/links/a", "dev/links/b", "dev/links/c"
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := start(t, backend)
			real := random(4096)
			d, bad := e.corrupt(t, a, real)
			e.must(t, 201, "POST", "/v2/"+c+"/blobs/uploads/?mount="+d.String()+"&from="+a, nil)
			if _, _, got, err := e.pullBlob(a, d); err != nil || bytes.Equal(got, real) {
				t.Fatalf("the corruption did not take (%v): A serves the true bytes before the heal", err)
			}
			e.pushBlob(t, b, real)
			rec, err := e.local.Stores.Meta.GetBlob(context.Background(), d)
			if err != nil || rec.Key == bad {
				t.Fatalf("the push of the true bytes did not heal the record: %+v %v", rec, err)
			}
			var errs []error
			for _, repo := range []string{a, b, c} {
				errs = append(errs, e.checkBlob(repo, d, true))
				l, err := e.local.Stores.Meta.GetLink(context.Background(), repo, d)
				if err == nil && l.Key != rec.Key {
					errs = append(errs, fmt.Errorf("%s's link names %s, the record %s", repo, l.Key, rec.Key))
				}
			}
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestCollectRepointsStaleLinks: a link that still names the bad object
// after a heal (a mount that read its source before the heal repointed
// it, or a heal that stopped before it had walked every repository) is
// repointed by the next garbage collection, which deletes neither
// object's record nor the verified object.
func TestCollectRepointsStaleLinks(t *testing.T) {
	const a, b, c = "dev/links/a", "dev/links/b", "dev/links/c"
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := start(t, backend)
			ctx := context.Background()
			real := random(4096)
			d, bad := e.corrupt(t, a, real)
			e.pushBlob(t, b, real)
			// What a mount racing the heal leaves: C linked to the bad
			// object after the heal's walk passed C.
			e.must(t, 202, "POST", "/v2/"+c+"/blobs/uploads/", nil) // creates C
			err := e.local.Stores.Meta.LinkBlob(ctx, c, store.Blob{Digest: d, Size: int64(len(real)), Key: bad})
			if err != nil {
				t.Fatal(err)
			}
			if _, _, got, err := e.pullBlob(c, d); err != nil || bytes.Equal(got, real) {
				t.Fatalf("C serves the true bytes before the collection (%v): the stale link did not take", err)
			}
			var col struct{ Repointed int }
			if err := json.Unmarshal(e.must(t, 200, "POST", "/api/retention/gc", nil).body, &col); err != nil {
				t.Fatal(err)
			}
			if col.Repointed != 1 {
				t.Errorf("the collection repointed %d links, want 1 (C's)", col.Repointed)
			}
			var errs []error
			for _, repo := range []string{a, b, c} {
				errs = append(errs, e.checkBlob(repo, d, true))
			}
			if err := errors.Join(errs...); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestRaceHealVsMountVsGC: repository A (and C, which mounted from it)
// links a digest whose object was corrupted. A push of the true bytes to
// B (which heals the record and repoints A's and C's links), a mount
// from A into M (which copies A's link, stale or repointed) and a
// garbage collection race; every other iteration the links are stale
// first, so the collection may remove them and condemn the record.
// Afterwards every repository serves the digest's true bytes or answers
// 404, and the record names an object that holds them: no collection
// deleted an object a link or the record names.
func TestRaceHealVsMountVsGC(t *testing.T) {
	const a, b, c, m = "dev/links/a", "dev/links/b", "dev/links/c", "dev/links/m"
	run(t, pair{name: "heal (push elsewhere) vs mount vs GC", setup: func(t *testing.T, e *env, i int) round {
		real := random(4096)
		d, _ := e.corrupt(t, a, real)
		e.must(t, 201, "POST", "/v2/"+c+"/blobs/uploads/?mount="+d.String()+"&from="+a, nil)
		if i%2 == 1 {
			e.advance(t, 2*grace)
		}
		return round{
			racers: []racer{
				{"push", jittered(10*time.Millisecond, func() response {
					return e.do("POST", "/v2/"+b+"/blobs/uploads/?digest="+d.String(), real)
				})},
				{"mount", jittered(10*time.Millisecond, func() response {
					return e.do("POST", "/v2/"+m+"/blobs/uploads/?mount="+d.String()+"&from="+a, nil)
				})},
				{"GC", jittered(10*time.Millisecond, e.collect)},
			},
			check: func(rs []response) error {
				var errs []error
				if rs[0].status != 201 {
					errs = append(errs, fmt.Errorf("the push answered %s %s", rs[0], rs[0].body))
				}
				errs = append(errs, e.checkBlob(b, d, rs[0].status == 201))
				switch rs[1].status {
				case 201:
				case 202: // A's link was collected first: a fresh session instead
					e.do("DELETE", rs[1].header.Get("Location"), nil)
				default:
					errs = append(errs, fmt.Errorf("the mount answered %s", rs[1]))
				}
				errs = append(errs, e.checkBlob(m, d, rs[1].status == 201))
				for _, repo := range []string{a, c} {
					errs = append(errs, e.checkBlob(repo, d, false))
				}
				errs = append(errs, e.checkRecord(d))
				return errors.Join(errs...)
			},
		}
	}})
}

// checkRecord: the digest's record names an object holding its bytes.
func (e *env) checkRecord(d digest.Digest) error {
	ctx := context.Background()
	rec, err := e.local.Stores.Meta.GetBlob(ctx, d)
	if err != nil {
		return fmt.Errorf("the record of %s: %w", d, err)
	}
	body, err := e.local.Stores.Blobs.Get(ctx, rec.Key)
	if err != nil {
		return fmt.Errorf("the record of %s names %s: %w", d, rec.Key, err)
	}
	if got := digest.FromBytes(body); got != d {
		return fmt.Errorf("the record of %s names %s, which holds %s", d, rec.Key, got)
	}
	return nil
}

// TestRaceScrubVsPush: `berth blobs verify` quarantines a record whose
// object was corrupted, and removes the links that name the bad object,
// while a push of the true bytes to the same repository heals the
// record and links the verified copy. The push's link must survive: a
// quarantine removes only a link that still names the bad object.
func TestRaceScrubVsPush(t *testing.T) {
	const a = "dev/links/scrubbed"
	run(t, pair{name: "scrub (quarantine) vs push of the true bytes", setup: func(t *testing.T, e *env, i int) round {
		real := random(4096)
		d, _ := e.corrupt(t, a, real)
		return round{
			racers: []racer{
				{"verify", jittered(5*time.Millisecond, func() response { return e.do("POST", "/api/blobs/verify", []byte(`{}`)) })},
				{"push", jittered(5*time.Millisecond, func() response {
					return e.do("POST", "/v2/"+a+"/blobs/uploads/?digest="+d.String(), real)
				})},
			},
			check: func(rs []response) error {
				if rs[1].status != 201 {
					return fmt.Errorf("the push answered %s %s", rs[1], rs[1].body)
				}
				return errors.Join(e.checkBlob(a, d, true), e.checkRecord(d))
			},
		}
	}})
}
