package race

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"

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
