package registry_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/registry"
	"github.com/berth-registry/berth/shared/route"
)

// TestBaseAndCatchAll covers GET /v2/ ("Determining support") and what
// the catch-all route answers for everything no other route takes.
func TestBaseAndCatchAll(t *testing.T) {
	e := newEnv(t)
	deep := strings.Repeat("a/", route.MaxDepth+1) // MaxDepth+1 components
	atMax := strings.Repeat("a/", route.MaxDepth)
	e.run(t, []Case{
		{Description: "GET /v2/ → 200 {}", Method: "GET", URL: "/v2/", Code: 200, WantBody: "{}",
			WantHeader: map[string]string{"Content-Type": "application/json"}},
		{Description: "GET /v2 without the slash → 200 {}", Method: "GET", URL: "/v2", Code: 200, WantBody: "{}"},
		{Description: "HEAD /v2/ → 200", Method: "HEAD", URL: "/v2/", Code: 200},
		{Description: "GET manifest of a name MaxDepth+1 deep → 400 NAME_INVALID",
			Method: "GET", URL: "/v2/" + deep + "manifests/latest", Code: 400, WantErrCode: errcode.NameInvalid},
		{Description: "POST upload to a name MaxDepth+1 deep → 400 NAME_INVALID",
			Method: "POST", URL: "/v2/" + deep + "blobs/uploads/", Code: 400, WantErrCode: errcode.NameInvalid},
		{Description: "GET tags of a name MaxDepth+1 deep → 400 NAME_INVALID",
			Method: "GET", URL: "/v2/" + deep + "tags/list", Code: 400, WantErrCode: errcode.NameInvalid},
		{Description: "GET manifest of a name MaxDepth deep → routed, 404 MANIFEST_UNKNOWN",
			Method: "GET", URL: "/v2/" + atMax + "manifests/latest", Code: 404, WantErrCode: errcode.ManifestUnknown},
		{Description: "POST upload with a trailing slash → 202",
			Method: "POST", URL: "/v2/foo/blobs/uploads/", Code: 202, WantHeader: map[string]string{"Location": present}},
		{Description: "POST upload without the trailing slash → 202",
			Method: "POST", URL: "/v2/foo/blobs/uploads", Code: 202, WantHeader: map[string]string{"Location": present}},
		{Description: "POST on a manifest → 405 UNSUPPORTED",
			Method: "POST", URL: "/v2/foo/manifests/latest", Code: 405, WantErrCode: errcode.Unsupported},
		{Description: "PATCH on tags/list → 405 UNSUPPORTED",
			Method: "PATCH", URL: "/v2/foo/tags/list", Code: 405, WantErrCode: errcode.Unsupported},
		{Description: "PUT on a blob → 405 UNSUPPORTED",
			Method: "PUT", URL: "/v2/foo/blobs/" + digest.FromString("x").String(), Code: 405, WantErrCode: errcode.Unsupported},
		{Description: "DELETE on referrers → 405 UNSUPPORTED",
			Method: "DELETE", URL: "/v2/foo/referrers/" + digest.FromString("x").String(), Code: 405, WantErrCode: errcode.Unsupported},
		{Description: "PUT on blobs/uploads without an id → 405 UNSUPPORTED",
			Method: "PUT", URL: "/v2/foo/blobs/uploads", Code: 405, WantErrCode: errcode.Unsupported},
		{Description: "GET of no API endpoint under /v2 → 404 UNSUPPORTED",
			Method: "GET", URL: "/v2/foo/bar", Code: 404, WantErrCode: errcode.Unsupported},
		// A path variable matches no empty segment, so a name with two
		// slashes in a row reaches the catch-all: it is no name.
		{Description: "GET manifest of a name with an empty component → 400 NAME_INVALID",
			Method: "GET", URL: "/v2/dev//secret/app/manifests/v1", Code: 400, WantErrCode: errcode.NameInvalid},
		{Description: "DELETE blob of a name with an empty component → 400 NAME_INVALID",
			Method: "DELETE", URL: "/v2/dev//app/blobs/" + digest.FromString("x").String(), Code: 400, WantErrCode: errcode.NameInvalid},
	})
}

// TestClientValuesAreCheckedBeforeStorage: an upload id newID could not
// have made, a tags or catalog cursor that is no tag or name, get the
// spec's error without reaching the store.
func TestClientValuesAreCheckedBeforeStorage(t *testing.T) {
	e := newEnv(t)
	long := strings.Repeat("a", 2100)
	e.run(t, []Case{
		{Description: "GET upload with a 2,100-byte id → 404 BLOB_UPLOAD_UNKNOWN",
			Method: "GET", URL: "/v2/foo/blobs/uploads/" + long, Code: 404, WantErrCode: errcode.BlobUploadUnknown},
		{Description: "DELETE upload with a non-hex id → 404 BLOB_UPLOAD_UNKNOWN",
			Method: "DELETE", URL: "/v2/foo/blobs/uploads/" + strings.Repeat("z", 32), Code: 404, WantErrCode: errcode.BlobUploadUnknown},
		{Description: "GET tags with last= over 128 bytes → 400 TAG_INVALID",
			Method: "GET", URL: "/v2/foo/tags/list?last=" + long, Code: 400, WantErrCode: errcode.TagInvalid},
		{Description: "GET catalog with last= no name → 400 NAME_INVALID",
			Method: "GET", URL: "/v2/_catalog?last=" + long, Code: 400, WantErrCode: errcode.NameInvalid},
	})
}

// TestCatchAllTrailingSlash: if API Gateway hands docker's "POST
// /v2/<name>/blobs/uploads/" to the catch-all route, the base function
// still starts the upload.
func TestCatchAllTrailingSlash(t *testing.T) {
	e := newEnv(t)
	reg := registry.New(e.meta, e.objs, registry.DefaultConfig(), registry.WithLogger(slog.New(slog.DiscardHandler)))
	var catchAll route.Route
	for _, r := range route.Table() {
		if r.Method == route.Any {
			catchAll = r
		}
	}
	req := httptest.NewRequest(http.MethodPost, "/v2/foo/bar/blobs/uploads/", nil)
	m := route.Match{Route: catchAll, Params: map[string]string{"proxy": "foo/bar/blobs/uploads/"}}
	rec := httptest.NewRecorder()
	reg.Handler(route.Base).ServeHTTP(rec, req.WithContext(route.WithMatch(req.Context(), m)))
	if rec.Code != http.StatusAccepted {
		t.Fatalf("status %d, want 202; body %s", rec.Code, rec.Body)
	}
	if loc := rec.Header().Get("Location"); !strings.HasPrefix(loc, "/v2/foo/bar/blobs/uploads/") {
		t.Errorf("Location = %q", loc)
	}
}

// TestBlobs covers "Pulling blobs" (307 to a signed URL), HEAD from
// metadata, "Deleting Blobs", and that a blob is readable only in a
// repository it is linked to.
func TestBlobs(t *testing.T) {
	e := newEnv(t)
	data := randBytes(70000, 42)
	d := e.pushBlob(t, "a/repo", data)
	shared := e.pushBlob(t, "a/repo", []byte("shared"))
	e.pushBlob(t, "b/repo", []byte("shared"))
	e.pushBlob(t, "b/repo", []byte("anything")) // b/repo exists
	url := func(repo string, d digest.Digest) string { return "/v2/" + repo + "/blobs/" + d.String() }

	e.run(t, []Case{
		{Description: "HEAD blob → 200 with Content-Length and Docker-Content-Digest",
			Method: "HEAD", URL: url("a/repo", d), Code: 200,
			WantHeader: map[string]string{"Content-Length": strconv.Itoa(len(data)), "Docker-Content-Digest": d.String()}},
		{Description: "GET blob → 307 with an absolute Location",
			Method: "GET", URL: url("a/repo", d), Code: 307,
			WantHeader: map[string]string{"Location": present, "Docker-Content-Digest": d.String()}},
		{Description: "HEAD blob unknown → 404 without a body",
			Method: "HEAD", URL: url("a/repo", digest.FromString("nope")), Code: 404},
		{Description: "GET blob unknown → 404 BLOB_UNKNOWN",
			Method: "GET", URL: url("a/repo", digest.FromString("nope")), Code: 404, WantErrCode: errcode.BlobUnknown},
		{Description: "GET blob of repo A from repo B → 404 BLOB_UNKNOWN",
			Method: "GET", URL: url("b/repo", d), Code: 404, WantErrCode: errcode.BlobUnknown},
		{Description: "HEAD blob of repo A from repo B → 404",
			Method: "HEAD", URL: url("b/repo", d), Code: 404},
		{Description: "GET blob from a repository that does not exist → 404 BLOB_UNKNOWN",
			Method: "GET", URL: url("c/none", d), Code: 404, WantErrCode: errcode.BlobUnknown},
		{Description: "GET blob with a malformed digest → 400 DIGEST_INVALID",
			Method: "GET", URL: "/v2/a/repo/blobs/sha256:xyz", Code: 400, WantErrCode: errcode.DigestInvalid},
		{Description: "HEAD blob with an unsupported algorithm → 400",
			Method: "HEAD", URL: "/v2/a/repo/blobs/md5:d41d8cd98f00b204e9800998ecf8427e", Code: 400},
		{Description: "DELETE blob with a malformed digest → 400 DIGEST_INVALID",
			Method: "DELETE", URL: "/v2/a/repo/blobs/sha256:xyz", Code: 400, WantErrCode: errcode.DigestInvalid},
		{Description: "GET blob with an invalid name → 400 NAME_INVALID",
			Method: "GET", URL: url("A/repo", d), Code: 400, WantErrCode: errcode.NameInvalid},
		{Description: "DELETE blob → 202", Method: "DELETE", URL: url("a/repo", shared), Code: 202},
		{Description: "GET deleted blob → 404 BLOB_UNKNOWN",
			Method: "GET", URL: url("a/repo", shared), Code: 404, WantErrCode: errcode.BlobUnknown},
		{Description: "HEAD deleted blob → 404", Method: "HEAD", URL: url("a/repo", shared), Code: 404},
		{Description: "DELETE deleted blob → 404 BLOB_UNKNOWN",
			Method: "DELETE", URL: url("a/repo", shared), Code: 404, WantErrCode: errcode.BlobUnknown},
		{Description: "HEAD blob deleted in another repository → still 200",
			Method: "HEAD", URL: url("b/repo", shared), Code: 200, WantHeader: map[string]string{"Content-Length": "6"}},
	})

	t.Run("the 307's signed URL serves the blob's bytes", func(t *testing.T) {
		if got := e.follow(t, url("a/repo", d)); !bytes.Equal(got, data) {
			t.Errorf("signed URL served %d bytes, want the %d pushed", len(got), len(data))
		}
	})
	t.Run("bytes pushed again to another repository are served from the first copy", func(t *testing.T) {
		if got := e.follow(t, url("b/repo", shared)); string(got) != "shared" {
			t.Errorf("b/repo's copy serves %q", got)
		}
		if left := e.leftovers(t); len(left) > 0 {
			t.Errorf("upload state left behind: %v", left)
		}
	})
	t.Run("a signed URL with a tampered signature → 403", func(t *testing.T) {
		res, _ := e.do(t, "GET", url("a/repo", d), nil, nil)
		u, err := neturl.Parse(res.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("signature", strings.Repeat("0", 64))
		u.RawQuery = q.Encode()
		if res, _ := e.do(t, "GET", u.String(), nil, nil); res.StatusCode != http.StatusForbidden {
			t.Errorf("status %d, want 403", res.StatusCode)
		}
	})
}

// TestInternalErrorsDoNotLeak: a storage failure answers 500 UNKNOWN with
// a generic message, while the cause goes to the log.
func TestInternalErrorsDoNotLeak(t *testing.T) {
	e := newEnv(t)
	e.pushBlob(t, "foo", []byte("x"))
	if err := e.meta.Close(); err != nil {
		t.Fatal(err)
	}
	e.run(t, []Case{
		{Description: "GET tags with metadata down → 500 UNKNOWN, generic message",
			Method: "GET", URL: "/v2/foo/tags/list", Code: 500, WantErrCode: errcode.Unknown},
		{Description: "GET manifest with metadata down → 500 UNKNOWN, generic message",
			Method: "GET", URL: "/v2/foo/manifests/latest", Code: 500, WantErrCode: errcode.Unknown},
		{Description: "POST upload with metadata down → 500 UNKNOWN, generic message",
			Method: "POST", URL: "/v2/foo/blobs/uploads/", Code: 500, WantErrCode: errcode.Unknown},
		{Description: "GET catalog with metadata down → 500 UNKNOWN, generic message",
			Method: "GET", URL: "/v2/_catalog", Code: 500, WantErrCode: errcode.Unknown},
	})
	if logs := e.logs.String(); !strings.Contains(logs, "database not open") {
		t.Errorf("the cause is not in the log:\n%s", logs)
	}
}

// TestMuxOutsideTheRegistry: paths the route table gives to functions
// other than the registry's (or to none) get a spec error from Mux, not
// a crash.
func TestMuxOutsideTheRegistry(t *testing.T) {
	e := newEnv(t)
	for _, p := range []string{"/token", "/api/repositories", "/nope", "/v2x"} {
		res, body := e.do(t, http.MethodGet, p, nil, nil)
		if res.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, res.StatusCode)
			continue
		}
		checkError(t, http.MethodGet, res, body, errcode.Unsupported)
	}
}
