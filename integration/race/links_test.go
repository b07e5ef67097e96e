package race

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/opencontainers/go-digest"
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

