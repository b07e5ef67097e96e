package auth

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
)

// TestAnotherTenancyIsInvisible: tenancy other's administrator, with
// Basic credentials and with docker's token flow, can neither list, pull
// nor mount dev's content, even knowing its digests; and the reverse.
func TestAnotherTenancyIsInvisible(t *testing.T) { onBackends(t, anotherTenancyIsInvisible) }

func anotherTenancyIsInvisible(t *testing.T, backend string) {
	w := newWorld(t, backend)
	r := w.r
	layer := w.app.layerD.String()
	for _, m := range []mode{basicMode, bearerMode} {
		t.Run(string(m), func(t *testing.T) {
			root := client{r, r.as("other/root"), m}
			refuse := func(res *response, scope string) string {
				if m == basicMode {
					return checkDenied(res)
				}
				return r.checkChallenge(res, scope)
			}
			res := root.do("GET", "/v2/_catalog", nil, nil)
			if res.Status != 200 {
				t.Fatalf("catalog: %v", res)
			}
			checkCatalog(t, res, func(n string) bool { return strings.HasPrefix(n, "other/") }, []string{"other/secret"})
			for _, req := range []struct{ method, path string }{
				{"GET", "/v2/dev/app/manifests/v1"},
				{"HEAD", "/v2/dev/app/manifests/" + w.app.digest.String()},
				{"GET", "/v2/dev/app/blobs/" + layer},
				{"HEAD", "/v2/dev/app/blobs/" + layer},
				{"GET", "/v2/dev/app/tags/list"},
				{"GET", "/v2/dev/app/referrers/" + w.app.digest.String()},
			} {
				if msg := refuse(root.do(req.method, req.path, nil, nil), appPull); msg != "" {
					t.Errorf("%s %s: %s", req.method, req.path, msg)
				}
			}
			// Mount by digest, naming the source or not: a fresh upload,
			// and the blob stays unknown in other/secret.
			for _, q := range []string{"?mount=" + layer + "&from=dev/app", "?mount=" + layer} {
				res := root.do("POST", "/v2/other/secret/blobs/uploads/"+q, nil, nil, appPull)
				if res.Status != http.StatusAccepted || !strings.Contains(res.Header.Get("Location"), "/blobs/uploads/") {
					t.Errorf("mount %s: %v, want 202 with an upload Location", q, res)
				}
				if got := root.do("GET", "/v2/other/secret/blobs/"+layer, nil, nil); got.Status != 404 || got.ErrorCode() != "BLOB_UNKNOWN" {
					t.Errorf("after mount %s, GET in other/secret: %v, want 404 BLOB_UNKNOWN", q, got)
				}
			}
			// The token endpoint grants nothing on dev's repositories.
			_, claims := r.realToken(r.as("other/root"), "repository:dev/app:pull,push,delete", "repository:dev/team-a/app:pull")
			if a, _ := claims["access"].([]any); len(a) != 0 {
				t.Errorf("token for another tenancy's repositories grants %v", a)
			}
			// And dev's administrator sees nothing of other.
			admin := client{r, r.as("dev/admin"), m}
			checkCatalog(t, admin.do("GET", "/v2/_catalog", nil, nil), inDev, nil)
			if msg := refuse(admin.do("GET", "/v2/other/secret/manifests/v1", nil, nil), "repository:other/secret:pull"); msg != "" {
				t.Errorf("dev/admin pulling other/secret: %s", msg)
			}
		})
	}
}

// TestBlobsAreReadableOnlyWhereLinked: a digest that exists elsewhere is
// unknown in a repository it was never pushed or mounted to, whoever
// asks — the administrator, or anyone through a public repository.
func TestBlobsAreReadableOnlyWhereLinked(t *testing.T) {
	onBackends(t, blobsAreReadableOnlyWhereLinked)
}

func blobsAreReadableOnlyWhereLinked(t *testing.T, backend string) {
	w := newWorld(t, backend)
	r := w.r
	secret := r.admin().pushBlob("dev/app", []byte("a blob only dev/app holds")).String()
	for _, tc := range []struct {
		name string
		c    client
		repo string
	}{
		{"administrator, private repository", r.admin(), teamRepo},
		{"administrator, public repository", r.admin(), "dev/pub"},
		{"anonymous, public repository", client{r, who{}, basicMode}, "dev/pub"},
		{"another tenancy, its own repository", client{r, r.as("other/root"), basicMode}, "other/secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if res := tc.c.do("GET", "/v2/"+tc.repo+"/blobs/"+secret, nil, nil); res.Status != 404 || res.ErrorCode() != "BLOB_UNKNOWN" {
				t.Errorf("GET blob: %v, want 404 BLOB_UNKNOWN", res)
			}
			if res := tc.c.do("HEAD", "/v2/"+tc.repo+"/blobs/"+secret, nil, nil); res.Status != 404 {
				t.Errorf("HEAD blob: %v, want 404", res)
			}
			if res := tc.c.do("GET", "/v2/"+tc.repo+"/manifests/"+w.app.digest.String(), nil, nil); res.Status != 404 || res.ErrorCode() != "MANIFEST_UNKNOWN" {
				t.Errorf("GET dev/app's manifest by digest: %v, want 404 MANIFEST_UNKNOWN", res)
			}
		})
	}
	if res := r.admin().do("HEAD", "/v2/dev/app/blobs/"+secret, nil, nil); res.Status != 200 {
		t.Errorf("control: the blob is not readable where it was pushed: %v", res)
	}
}

// TestMountFromAnUnpullableRepositoryIsAFreshUpload: the team user may
// push to team-* but not pull dev/app; a mount from dev/app gives a new
// upload session, and the blob does not appear in the target.
func TestMountFromAnUnpullableRepositoryIsAFreshUpload(t *testing.T) {
	onBackends(t, mountFromAnUnpullableRepositoryIsAFreshUpload)
}

func mountFromAnUnpullableRepositoryIsAFreshUpload(t *testing.T, backend string) {
	w := newWorld(t, backend)
	r := w.r
	d := r.admin().pushBlob("dev/app", []byte("mount me if you can")).String()
	for _, m := range []mode{basicMode, bearerMode} {
		team := client{r, r.as("dev/team"), m}
		res := team.do("POST", "/v2/"+teamRepo+"/blobs/uploads/?mount="+d+"&from=dev/app", nil, nil, appPull)
		if res.Status != http.StatusAccepted || !strings.Contains(res.Header.Get("Location"), "/v2/"+teamRepo+"/blobs/uploads/") {
			t.Errorf("%s: mount answered %v, want 202 with an upload in %s", m, res, teamRepo)
		}
		if got := r.admin().do("HEAD", "/v2/"+teamRepo+"/blobs/"+d, nil, nil); got.Status != 404 {
			t.Errorf("%s: after the refused mount the blob is in %s: %v", m, teamRepo, got)
		}
	}
	// Control: one who may pull the source mounts it.
	if res := r.admin().do("POST", "/v2/"+teamRepo+"/blobs/uploads/?mount="+d+"&from=dev/app", nil, nil); res.Status != http.StatusCreated {
		t.Errorf("control: admin's mount answered %v, want 201", res)
	}
}

// TestInvalidNamesNeverReachData: traversal, encoded slashes, upper case
// and over-long names are NAME_INVALID or 404, never content.
func TestInvalidNamesNeverReachData(t *testing.T) { onBackends(t, invalidNamesNeverReachData) }

func invalidNamesNeverReachData(t *testing.T, backend string) {
	w := newWorld(t, backend)
	r := w.r
	long := "dev/" + strings.Repeat("a", 256)
	paths := []string{
		"/v2/dev/../dev/app/manifests/v1",
		"/v2/dev/app/../app/manifests/v1",
		"/v2/dev/%2e%2e/other/secret/manifests/v1",
		"/v2/dev/app%2f..%2f..%2fother%2fsecret/manifests/v1",
		"/v2/dev%2F..%2Fother%2Fsecret/manifests/v1",
		"/v2/dev/team-a%2f..%2fapp/manifests/v1",
		"/v2/dev/team-a/..%2fapp/manifests/v1",
		"/v2/dev/App/manifests/v1",
		"/v2/DEV/app/manifests/v1",
		"/v2/" + long + "/manifests/v1",
		"/v2/dev/../dev/app/blobs/" + w.app.layerD.String(),
		"/v2/dev/app%2f..%2fapp/tags/list",
	}
	for _, p := range paths {
		for _, c := range []struct {
			name string
			c    client
		}{
			{"admin", r.admin()},
			{"team", client{r, r.as("dev/team"), basicMode}},
			{"other tenancy", client{r, r.as("other/root"), basicMode}},
		} {
			res := c.c.do("GET", p, nil, nil)
			nameInvalid := res.Status == http.StatusBadRequest && res.ErrorCode() == "NAME_INVALID"
			if !nameInvalid && res.Status != http.StatusNotFound {
				t.Errorf("%s GET %s: %v, want 400 NAME_INVALID or 404", c.name, p, res)
			}
			if bytes.Contains(res.Body, w.app.manifest) || bytes.Contains(res.Body, []byte("secret")) && !nameInvalid {
				t.Errorf("%s GET %s returned content: %s", c.name, p, res.Body)
			}
		}
		if res := r.send("GET", p, nil, nil); res.Status != http.StatusUnauthorized && res.Status != http.StatusNotFound {
			t.Errorf("anonymous GET %s: %v, want 401 or 404", p, res)
		}
	}
	if res := r.admin().do("GET", "/v2/other%2fsecret/manifests/v1", nil, nil); checkDenied(res) != "" {
		t.Errorf("dev/admin reaching other/secret through %%2f: %v, want 403 DENIED", res)
	}
}

// TestPublicRepository: anonymous GET/HEAD of manifests and blobs and
// the tags list work; anonymous push, delete and catalog do not.
func TestPublicRepository(t *testing.T) { onBackends(t, publicRepository) }

func publicRepository(t *testing.T, backend string) {
	w := newWorld(t, backend)
	r := w.r
	pub := newImage("public image")
	r.admin().pushImage("dev/pub", "v2", pub)
	for _, m := range []mode{basicMode, bearerMode} {
		anon := client{r, who{}, m}
		t.Run(string(m), func(t *testing.T) {
			if res := anon.do("GET", "/v2/dev/pub/manifests/v2", nil, http.Header{"Accept": {manifestType}}); res.Status != 200 || !bytes.Equal(res.Body, pub.manifest) {
				t.Errorf("GET manifest: %v", res)
			}
			if res := anon.do("HEAD", "/v2/dev/pub/manifests/v2", nil, nil); res.Status != 200 || res.Header.Get("Docker-Content-Digest") != pub.digest.String() {
				t.Errorf("HEAD manifest: %v %v", res, res.Header)
			}
			if res := anon.do("HEAD", "/v2/dev/pub/blobs/"+pub.layerD.String(), nil, nil); res.Status != 200 {
				t.Errorf("HEAD blob: %v", res)
			}
			res := anon.do("GET", "/v2/dev/pub/blobs/"+pub.layerD.String(), nil, nil)
			if res.Status != http.StatusTemporaryRedirect {
				t.Fatalf("GET blob: %v, want 307", res)
			}
			if got := r.send("GET", res.Header.Get("Location"), nil, nil); got.Status != 200 || digest.FromBytes(got.Body) != pub.layerD {
				t.Errorf("following the redirect: %v", got)
			}
			var tags struct{ Tags []string }
			if res := anon.do("GET", "/v2/dev/pub/tags/list", nil, nil); res.Status != 200 || json.Unmarshal(res.Body, &tags) != nil || len(tags.Tags) != 2 {
				t.Errorf("tags list: %v", res)
			}
			for _, req := range []struct{ method, path, scope string }{
				{"POST", "/v2/dev/pub/blobs/uploads/", "repository:dev/pub:pull,push"},
				{"PUT", "/v2/dev/pub/manifests/v3", "repository:dev/pub:pull,push"},
				{"DELETE", "/v2/dev/pub/manifests/v2", "repository:dev/pub:delete"},
				{"DELETE", "/v2/dev/pub/blobs/" + pub.layerD.String(), "repository:dev/pub:delete"},
				{"GET", "/v2/_catalog", "registry:catalog:*"},
				{"GET", "/v2/dev/app/manifests/v1", appPull},
			} {
				if msg := r.checkChallenge(anon.do(req.method, req.path, pub.manifest, http.Header{"Content-Type": {manifestType}}), req.scope); msg != "" {
					t.Errorf("anonymous %s %s: %s", req.method, req.path, msg)
				}
			}
		})
	}
	// Public means pullable by everyone, writable by no one new.
	root := client{r, r.as("other/root"), basicMode}
	if res := root.do("GET", "/v2/dev/pub/manifests/v2", nil, nil); res.Status != 200 {
		t.Errorf("another tenancy pulling a public repository: %v", res)
	}
	if msg := checkDenied(root.putManifest("dev/pub", "v3", pub.manifest)); msg != "" {
		t.Errorf("another tenancy pushing to a public repository: %s", msg)
	}
	if res := r.admin().do("GET", "/v2/dev/pub/manifests/v2", nil, nil); res.Status != 200 {
		t.Errorf("the public image is gone after the attempts: %v", res)
	}
}

// TestImmutableTags: moving a tag is refused with DENIED; re-pushing the
// same content and pushing a new tag work.
func TestImmutableTags(t *testing.T) { onBackends(t, immutableTags) }

func immutableTags(t *testing.T, backend string) {
	r := start(t, backend)
	adm := r.admin()
	first, second := newImage("first"), newImage("second")
	adm.pushImage("dev/imm", "v1", first)
	r.setRepository("dev/imm", func(rec *store.Repository) { rec.ImmutableTags = true })
	adm.pushBlob("dev/imm", second.config)
	adm.pushBlob("dev/imm", second.layer)

	res := adm.putManifest("dev/imm", "v1", second.manifest)
	if msg := checkDenied(res); msg != "" {
		t.Errorf("moving v1: %s", msg)
	} else if !strings.Contains(string(res.Body), "immutable") {
		t.Errorf("the refusal does not say why: %s", res.Body)
	}
	if res := adm.putManifest("dev/imm", "v1", first.manifest); res.Status != http.StatusCreated {
		t.Errorf("re-pushing v1 unchanged: %v, want 201", res)
	}
	if res := adm.putManifest("dev/imm", "v2", second.manifest); res.Status != http.StatusCreated {
		t.Errorf("pushing a new tag: %v, want 201", res)
	}
	if res := adm.do("HEAD", "/v2/dev/imm/manifests/v1", nil, nil); res.Header.Get("Docker-Content-Digest") != first.digest.String() {
		t.Errorf("v1 now points at %s, want %s", res.Header.Get("Docker-Content-Digest"), first.digest)
	}
}
