package race

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/store"
)

// TestRaceImmutableFirstTag: four pushes of different manifests under
// one new tag of a repository with immutable tags (seen: three or four
// answered 201 and the last write won). The first write wins; the others
// are refused, and the tag names the winner.
func TestRaceImmutableFirstTag(t *testing.T) {
	const repo = "dev/race/immutable"
	var base image
	run(t, pair{name: "first tag write vs first tag write (immutable, 4 pushers)", setup: func(t *testing.T, e *env, i int) round {
		if i == 0 {
			base = e.newImage(t, repo)
			err := e.local.Stores.Meta.PutRepository(context.Background(), store.Repository{Name: repo, Created: time.Now().UTC(), ImmutableTags: true})
			if err != nil {
				t.Fatal(err)
			}
		}
		tag := fmt.Sprintf("rel-%d", i)
		var racers []racer
		var ims []image
		for k := range 4 {
			im := base.variant(i*4 + k)
			ims = append(ims, im)
			racers = append(racers, racer{fmt.Sprintf("PUT %d", k), func() response { return e.putManifest(im, repo, tag) }})
		}
		return round{racers: racers, check: func(rs []response) error {
			won := only(rs, 201)
			if len(won) != 1 {
				return fmt.Errorf("%d different manifests were accepted under one immutable tag", len(won))
			}
			for k, r := range rs {
				if k != won[0] && r.code() != "DENIED" {
					return fmt.Errorf("a losing push answered %s, not 403 DENIED", r)
				}
			}
			return e.checkImage(repo, tag, ims[won[0]], true)
		}}
	}})
}

// now is the test clock's time.
func (e *env) now(t testing.TB) time.Time {
	t.Helper()
	var c struct{ Now time.Time }
	if err := json.Unmarshal(e.must(t, 200, "GET", "/api/retention/clock", nil).body, &c); err != nil {
		t.Fatal(err)
	}
	return c.Now
}

// pushUntagged pushes a fresh image to repo by digest only: retention
// deletes it (the policy deletes images untagged for a day).
func (e *env) pushUntagged(t testing.TB, repo string) image {
	t.Helper()
	im := e.newImage(t, repo)
	if r := e.putManifest(im, repo, im.digest.String()); r.status != 201 {
		t.Fatalf("push untagged: %s", r)
	}
	return im
}

// retentionRun runs retention on repo as of asOf.
func (e *env) retentionRun(repo string, asOf time.Time) response {
	return e.do("POST", "/api/retention/runs", fmt.Appendf(nil, `{"repository":%q,"asOf":%q}`, repo, asOf.Format(time.RFC3339Nano)))
}

func (e *env) collect() response { return e.do("POST", "/api/retention/gc", nil) }

// TestRaceManifestVsRetentionVsGC: an image that retention deleted and
// purged from the bin is pushed again under a tag, after its blobs'
// links went stale, while retention deletes untagged images and garbage
// collection removes unreferenced blobs. A push that answers 201 leaves
// its tag on a complete image; one that loses gets MANIFEST_BLOB_UNKNOWN.
func TestRaceManifestVsRetentionVsGC(t *testing.T) {
	const repo = "dev/race/retention"
	run(t, pair{name: "manifest PUT vs retention delete vs GC", setup: func(t *testing.T, e *env, i int) round {
		im := e.pushUntagged(t, repo)
		asOf := e.now(t).Add(48 * time.Hour)
		for range 2 { // the first run bins the image, the second purges the bin
			if r := e.retentionRun(repo, asOf); r.status != 200 {
				t.Fatalf("retention run: %s %s", r, r.body)
			}
		}
		if r := e.do("HEAD", "/v2/"+repo+"/manifests/"+im.digest.String(), nil); r.status != 404 {
			t.Fatalf("retention kept the untagged image: HEAD %s", r)
		}
		e.advance(t, 2*grace)
		asOf = asOf.Add(2 * grace)
		tag := fmt.Sprintf("t%d", i)
		return round{
			racers: []racer{
				{"PUT", jittered(10*time.Millisecond, func() response { return e.putManifest(im, repo, tag) })},
				{"retention", jittered(10*time.Millisecond, func() response { return e.retentionRun(repo, asOf) })},
				{"GC", jittered(10*time.Millisecond, e.collect)},
			},
			check: func(rs []response) error {
				switch {
				case rs[0].status == 201:
					return e.checkImage(repo, tag, im, true)
				case rs[0].code() != "MANIFEST_BLOB_UNKNOWN":
					return fmt.Errorf("the push answered %s %s", rs[0], rs[0].body)
				}
				return e.checkImage(repo, tag, im, false)
			},
		}
	}})
}

// TestRaceMountVsDelete: a mount from a repository and a delete of the
// blob there.
func TestRaceMountVsDelete(t *testing.T) {
	const src, dst = "dev/race/source", "dev/race/mounted"
	run(t, pair{name: "mount vs delete", setup: func(t *testing.T, e *env, i int) round {
		d := e.pushBlob(t, src, random(4096))
		return round{
			racers: []racer{
				{"mount", jittered(10*time.Millisecond, func() response {
					return e.do("POST", "/v2/"+dst+"/blobs/uploads/?mount="+d.String()+"&from="+src, nil)
				})},
				{"DELETE", jittered(10*time.Millisecond, func() response { return e.do("DELETE", "/v2/"+src+"/blobs/"+d.String(), nil) })},
			},
			check: func(rs []response) error {
				var errs []error
				switch rs[0].status {
				case 201:
					errs = append(errs, e.checkBlob(dst, d, true))
				case 202: // not mountable any more: a fresh session instead
					e.do("DELETE", rs[0].header.Get("Location"), nil)
				default:
					errs = append(errs, fmt.Errorf("the mount answered %s", rs[0]))
				}
				if rs[1].status != 202 {
					errs = append(errs, fmt.Errorf("the delete answered %s", rs[1]))
				} else if h := e.do("HEAD", "/v2/"+src+"/blobs/"+d.String(), nil); h.status != 404 {
					errs = append(errs, fmt.Errorf("deleted, yet HEAD in the source answers %s", h))
				}
				return errors.Join(errs...)
			},
		}
	}})
}

// TestRaceRestoreVsGC: an image in the recycle bin, whose blobs' links
// went stale, is restored while garbage collection runs. A restored
// image is complete.
func TestRaceRestoreVsGC(t *testing.T) {
	const repo = "dev/race/restore"
	run(t, pair{name: "restore vs GC", setup: func(t *testing.T, e *env, i int) round {
		im := e.pushUntagged(t, repo)
		if r := e.retentionRun(repo, e.now(t).Add(48*time.Hour)); r.status != 200 {
			t.Fatalf("retention run: %s %s", r, r.body)
		}
		e.advance(t, 2*grace)
		body := fmt.Appendf(nil, `{"repository":%q,"digest":%q}`, repo, im.digest)
		return round{
			racers: []racer{
				{"restore", jittered(10*time.Millisecond, func() response { return e.do("POST", "/api/retention/bin/restore", body) })},
				{"GC", jittered(10*time.Millisecond, e.collect)},
			},
			check: func(rs []response) error {
				if rs[0].status != 200 {
					return fmt.Errorf("the restore answered %s %s", rs[0], rs[0].body)
				}
				return e.checkImage(repo, im.digest.String(), im, true)
			},
		}
	}})
}
