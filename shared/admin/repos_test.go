package admin_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
)

// image is content pushed to a repository: a layer blob, a manifest
// tagged v1 and latest, and a signature whose subject is the manifest.
type image struct {
	layer, manifest, signature digest.Digest
}

func (e *env) push(repo string) image {
	e.t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	im := image{
		layer:     digest.FromString("layer of " + repo),
		manifest:  digest.FromString("manifest of " + repo),
		signature: digest.FromString("signature of " + repo),
	}
	must(e.t, e.meta.EnsureRepository(ctx, repo))
	b := store.Blob{Digest: im.layer, Size: 5, Key: "blobs/" + im.layer.Encoded(), Created: now}
	if err := e.meta.PutBlob(ctx, b); err != nil && !errors.Is(err, store.ErrExists) {
		e.t.Fatal(err)
	}
	must(e.t, e.meta.LinkBlob(ctx, repo, b))
	mt := "application/vnd.oci.image.manifest.v1+json"
	must(e.t, e.meta.PutManifest(ctx, store.Manifest{Repo: repo, Digest: im.manifest, MediaType: mt, Size: 400, Body: []byte("{}"), Refs: []digest.Digest{im.layer}, Created: now}))
	must(e.t, e.meta.PutManifest(ctx, store.Manifest{Repo: repo, Digest: im.signature, MediaType: mt, ArtifactType: "application/vnd.dev.cosign.artifact.sig.v1+json", Size: 300, Body: []byte("{}"), Subject: im.manifest, Created: now}))
	for _, tag := range []string{"v1", "latest"} {
		must(e.t, e.meta.PutTag(ctx, store.Tag{Repo: repo, Name: tag, Digest: im.manifest, MediaType: mt, Size: 400, Updated: now}))
	}
	return im
}

func TestRepositories(t *testing.T) {
	e := newEnv(t)
	im := e.push("dev/team/app")
	e.push("dev/other")
	e.push("acme/secret")
	app := "/api/repositories/dev/team/app"
	policy := func(stmt string) map[string]any { return map[string]any{"statements": []string{stmt}} }
	e.run([]step{
		{name: "a user without policy lists nothing", as: "dev/alice", method: "GET", path: "/api/repositories", status: 200, has: `"repositories":[]`},
		{name: "setup: readers group with alice in it", as: "dev/admin", method: "POST", path: "/api/tenancies/dev/groups", body: map[string]any{"name": "readers"}, status: 201},
		{name: "setup: alice joins readers", as: "dev/admin", method: "PUT", path: "/api/tenancies/dev/users/alice", body: map[string]any{"groups": []string{"readers"}}, status: 200},
		{name: "setup: readers may inspect team/*", as: "dev/admin", method: "PUT", path: "/api/tenancies/dev/policies/p", body: policy("allow group readers to inspect repos in tenancy where target.repo.name = /team*/"), status: 200},
		{name: "inspect lists what the statement covers", as: "dev/alice", method: "GET", path: "/api/repositories", status: 200, has: `"repositories":[{"name":"dev/team/app"`, lacks: "dev/other"},
		{name: "inspect does not show details", as: "dev/alice", method: "GET", path: app, status: 403, code: "DENIED", has: "read"},
		{name: "setup: readers may read team/*", as: "dev/admin", method: "PUT", path: "/api/tenancies/dev/policies/p", body: policy("allow group readers to read repos in tenancy where target.repo.name = /team*/"), status: 200},
		{name: "read shows tags and manifests", as: "dev/alice", method: "GET", path: app, status: 200, has: `"tags":[{"name":"latest","digest":"` + im.manifest.String()},
		{name: "details mark a manifest's tags", as: "dev/alice", method: "GET", path: app, status: 200, has: `"tags":["latest","v1"]`},
		{name: "read cannot change settings", as: "dev/alice", method: "PATCH", path: app, body: map[string]any{"public": true}, status: 403, code: "DENIED", has: "manage"},
		{name: "read cannot delete", as: "dev/alice", method: "DELETE", path: app, status: 403, code: "DENIED"},
		{name: "read cannot create", as: "dev/alice", method: "POST", path: "/api/repositories", body: map[string]any{"name": "dev/team/new"}, status: 403, code: "DENIED", has: "manage"},
		{name: "administrator lists every repository of the tenancy", as: "dev/admin", method: "GET", path: "/api/repositories?tenancy=dev", status: 200, has: `"dev/other"`, lacks: "acme/"},
		{name: "listing pages with n and next", as: "dev/admin", method: "GET", path: "/api/repositories?n=1", status: 200, has: `"next":"dev/other"`},
		{name: "the next page starts after last", as: "dev/admin", method: "GET", path: "/api/repositories?n=1&last=dev/other", status: 200, has: `"name":"dev/team/app"`, lacks: `"name":"dev/other"`},
		{name: "bad n → 400", as: "dev/admin", method: "GET", path: "/api/repositories?n=0", status: 400, code: "INVALID"},
		{name: "another tenancy's private repositories are not listed", as: "acme/admin", method: "GET", path: "/api/repositories?tenancy=dev", status: 200, has: `"repositories":[]`},
		{name: "another tenancy's private repository is unknown", as: "acme/admin", method: "GET", path: app, status: 404, code: "NAME_UNKNOWN"},
		{name: "another tenancy cannot create in it", as: "acme/admin", method: "POST", path: "/api/repositories", body: map[string]any{"name": "dev/mole"}, status: 403, code: "DENIED", has: "own tenancy"},
		{name: "name without a tenancy → 400", as: "dev/admin", method: "POST", path: "/api/repositories", body: map[string]any{"name": "app"}, status: 400, code: "NAME_INVALID", has: "tenancy namespace"},
		{name: "invalid name → 400", as: "dev/admin", method: "POST", path: "/api/repositories", body: map[string]any{"name": "dev/App"}, status: 400, code: "NAME_INVALID"},
		{name: "existing repository → 409", as: "dev/admin", method: "POST", path: "/api/repositories", body: map[string]any{"name": "dev/other"}, status: 409, code: "CONFLICT"},
		{name: "administrator creates a public repository", as: "dev/admin", method: "POST", path: "/api/repositories", body: map[string]any{"name": "dev/pub", "public": true}, status: 201, has: `"public":true`},
		{name: "another tenancy reads a public repository", as: "acme/admin", method: "GET", path: "/api/repositories/dev/pub", status: 200, has: `"name":"dev/pub"`},
		{name: "another tenancy lists public repositories", as: "acme/carol", method: "GET", path: "/api/repositories?tenancy=dev", status: 200, has: `"dev/pub"`, lacks: "dev/other"},
		{name: "another tenancy cannot manage a public repository", as: "acme/admin", method: "PATCH", path: "/api/repositories/dev/pub", body: map[string]any{"public": false}, status: 403, code: "DENIED"},
		{name: "empty change → 400", as: "dev/admin", method: "PATCH", path: app, body: map[string]any{}, status: 400, code: "INVALID"},
		{name: "administrator makes tags immutable", as: "dev/admin", method: "PATCH", path: app, body: map[string]any{"immutableTags": true}, status: 200, has: `"public":false,"immutableTags":true`},
		{name: "administrator makes it public", as: "dev/admin", method: "PATCH", path: app, body: map[string]any{"public": true}, status: 200, has: `"public":true,"immutableTags":true`},
		{name: "missing repository → 404", as: "dev/admin", method: "GET", path: "/api/repositories/dev/none", status: 404, code: "NAME_UNKNOWN"},
		{name: "setup: ci may manage ci-*", as: "dev/admin", method: "PUT", path: "/api/tenancies/dev/policies/p", body: policy("allow group readers to manage repos in tenancy where target.repo.name = /ci-*/"), status: 200},
		{name: "manage creates repositories", as: "dev/alice", method: "POST", path: "/api/repositories", body: map[string]any{"name": "dev/ci-cache"}, status: 201},
		{name: "manage deletes them", as: "dev/alice", method: "DELETE", path: "/api/repositories/dev/ci-cache", status: 200},
	})
	got, err := e.meta.GetRepository(context.Background(), "dev/team/app")
	if err != nil || !got.Public || !got.ImmutableTags {
		t.Errorf("settings after PATCH: %+v, %v", got, err)
	}
	hasAll(t, e.audit("dev"), "dev/admin create repository dev/pub", "dev/admin update repository dev/team/app",
		"dev/alice create repository dev/ci-cache", "dev/alice delete repository dev/ci-cache")
}

func TestImageDetails(t *testing.T) {
	e := newEnv(t)
	im := e.push("dev/app")
	e.push("acme/app")
	e.run([]step{
		{name: "image shows its tags", as: "dev/admin", method: "GET", path: "/api/images/dev/app@" + im.manifest.String(), status: 200, has: `"tags":["latest","v1"]`},
		{name: "image shows its referrers", as: "dev/admin", method: "GET", path: "/api/images/dev/app@" + im.manifest.String(), status: 200, has: `"referrers":[{"digest":"` + im.signature.String()},
		{name: "image shows what it references", as: "dev/admin", method: "GET", path: "/api/images/dev/app@" + im.manifest.String(), status: 200, has: `"references":["` + im.layer.String() + `"]`},
		{name: "a referrer shows its subject", as: "dev/admin", method: "GET", path: "/api/images/dev/app@" + im.signature.String(), status: 200, has: `"subject":"` + im.manifest.String()},
		{name: "bad digest → 400", as: "dev/admin", method: "GET", path: "/api/images/dev/app@sha256:xyz", status: 400, code: "DIGEST_INVALID"},
		{name: "unknown manifest → 404", as: "dev/admin", method: "GET", path: "/api/images/dev/app@" + digest.FromString("nothing").String(), status: 404, code: "MANIFEST_UNKNOWN"},
		{name: "a member without read is denied", as: "dev/alice", method: "GET", path: "/api/images/dev/app@" + im.manifest.String(), status: 403, code: "DENIED"},
		{name: "another tenancy's image is unknown", as: "dev/alice", method: "GET", path: "/api/images/acme/app@" + im.manifest.String(), status: 404, code: "NAME_UNKNOWN"},
	})
}

// TestImageActivity: image details and repository details show one
// image's activity the same way (store.Activity), and omit what never
// happened rather than print a zero time.
func TestImageActivity(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	day0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	m := store.Manifest{Repo: "dev/app", Digest: digest.FromString("m"), MediaType: "application/vnd.oci.image.manifest.v1+json", Size: 2, Body: []byte("{}"),
		Created: day0, Pushed: day0.AddDate(0, 0, 2)}
	old := store.Manifest{Repo: "dev/app", Digest: digest.FromString("old"), MediaType: m.MediaType, Size: 2, Body: []byte("{}"), Created: day0}
	must(t, e.meta.EnsureRepository(ctx, "dev/app"))
	must(t, e.meta.PutManifest(ctx, m))
	must(t, e.meta.PutManifest(ctx, old))
	for range 2 {
		if _, err := e.meta.RecordPull(ctx, "dev/app", m.Digest, day0.AddDate(0, 0, 3)); err != nil {
			t.Fatal(err)
		}
	}
	pulled := `"firstPushed":"2030-01-01T00:00:00Z","lastPushed":"2030-01-03T00:00:00Z","lastPulled":"2030-01-04T00:00:00Z","pulls":2`
	never := `"firstPushed":"2030-01-01T00:00:00Z","lastPushed":"2030-01-01T00:00:00Z","pulls":0`
	e.run([]step{
		{name: "an image's activity", as: "dev/admin", method: "GET", path: "/api/images/dev/app@" + m.Digest.String(), status: 200, has: pulled},
		{name: "a record without a last push reads its first", as: "dev/admin", method: "GET", path: "/api/images/dev/app@" + old.Digest.String(), status: 200, has: never, lacks: "lastPulled"},
		{name: "repository details show the same", as: "dev/admin", method: "GET", path: "/api/repositories/dev/app", status: 200, has: pulled},
		{name: "no zero time anywhere", as: "dev/admin", method: "GET", path: "/api/repositories/dev/app", status: 200, lacks: "0001-01-01"},
	})
}

func TestDeleteRepositoryRemovesItsContent(t *testing.T) {
	e := newEnv(t)
	im := e.push("dev/app")
	e.push("dev/keep")
	res := e.as("dev/admin", "DELETE", "/api/repositories/dev/app", nil)
	if res.status != 200 || !strings.Contains(string(res.body), `"tags":2,"manifests":2,"blobLinks":1`) {
		t.Fatalf("delete: %d %s", res.status, res.body)
	}
	ctx := context.Background()
	tags, err := e.meta.ListTags(ctx, "dev/app", "", 10)
	must(t, err)
	ms, err := e.meta.ListManifests(ctx, "dev/app", "", 10)
	must(t, err)
	links, err := e.meta.ListLinks(ctx, "dev/app", "", 10)
	must(t, err)
	if len(tags)+len(ms)+len(links) != 0 {
		t.Errorf("left behind: %d tags, %d manifests, %d links", len(tags), len(ms), len(links))
	}
	if _, err := e.meta.GetRepository(ctx, "dev/app"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("repository record: %v, want not found", err)
	}
	if _, err := e.meta.GetLink(ctx, "dev/keep", digest.FromString("layer of dev/keep")); err != nil {
		t.Errorf("another repository's link went too: %v", err)
	}
	if _, err := e.meta.GetBlob(ctx, im.layer); err != nil {
		t.Errorf("blob record went (garbage collection decides that): %v", err)
	}
	e.run([]step{
		{name: "deleted repository → 404", as: "dev/admin", method: "GET", path: "/api/repositories/dev/app", status: 404, code: "NAME_UNKNOWN"},
		{name: "deleting again → 404", as: "dev/admin", method: "DELETE", path: "/api/repositories/dev/app", status: 404, code: "NAME_UNKNOWN"},
	})
	hasAll(t, e.audit("dev"), "dev/admin delete repository dev/app")
}

func TestAuditTrail(t *testing.T) {
	e := newEnv(t)
	for _, g := range []string{"a", "b", "c"} {
		if res := e.as("dev/admin", "POST", "/api/tenancies/dev/groups", map[string]any{"name": g}); res.status != 201 {
			t.Fatalf("create group: %d %s", res.status, res.body)
		}
	}
	e.run([]step{
		{name: "non-administrator cannot read the trail", as: "dev/alice", method: "GET", path: "/api/tenancies/dev/audit", status: 403, code: "DENIED"},
		{name: "another tenancy cannot read it", as: "acme/admin", method: "GET", path: "/api/tenancies/dev/audit", status: 403, code: "DENIED"},
		{name: "bad limit → 400", as: "dev/admin", method: "GET", path: "/api/tenancies/dev/audit?limit=5000", status: 400, code: "INVALID"},
	})
	var page struct {
		Events []struct{ ID, Action, Target, Principal string }
		Next   string
	}
	e.as("dev/admin", "GET", "/api/tenancies/dev/audit?limit=2", nil).json(t, &page)
	if len(page.Events) != 2 || page.Events[0].Target != "c" || page.Events[1].Target != "b" || page.Next != page.Events[1].ID {
		t.Fatalf("first page %+v, want groups c then b, newest first, with next", page)
	}
	if page.Events[0].Action != "create group" || page.Events[0].Principal != "dev/admin" {
		t.Errorf("event %+v", page.Events[0])
	}
	next := page.Next
	page.Events, page.Next = nil, ""
	e.as("dev/admin", "GET", "/api/tenancies/dev/audit?limit=2&before="+next, nil).json(t, &page)
	if len(page.Events) != 1 || page.Events[0].Target != "a" || page.Next != "" {
		t.Errorf("second page %+v, want group a and no next", page)
	}
}
