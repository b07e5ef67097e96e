package doctor

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
)

// Media types of the image doctor pushes.
const (
	mediaManifest = "application/vnd.oci.image.manifest.v1+json"
	mediaConfig   = "application/vnd.oci.image.config.v1+json"
	mediaLayer    = "application/vnd.oci.image.layer.v1.tar"
	tag           = "doctor"
)

// blob is one piece of content with its descriptor fields.
type blob struct {
	MediaType string `json:"mediaType"`
	Digest    string `json:"digest"`
	Size      int64  `json:"size"`
	data      []byte
	pushed    bool
}

func newBlob(mediaType string, data []byte) *blob {
	return &blob{MediaType: mediaType, Digest: sha256Digest(data), Size: int64(len(data)), data: data}
}

func sha256Digest(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

// image is the tiny image doctor pushes: two one-file layers (one sent
// in Content-Range chunks, one streamed) and a config naming them.
type image struct {
	config, chunked, streamed *blob
	manifest                  []byte
}

func newImage() *image {
	layer := func(name string) *blob {
		nonce := make([]byte, 16)
		_, _ = rand.Read(nonce)
		content := []byte(fmt.Sprintf("written by berth doctor, removed when it finishes (%x)\n", nonce))
		var b bytes.Buffer
		tw := tar.NewWriter(&b)
		_ = tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg})
		_, _ = tw.Write(content)
		_ = tw.Close()
		return newBlob(mediaLayer, b.Bytes())
	}
	img := &image{chunked: layer("berth-doctor-1"), streamed: layer("berth-doctor-2")}
	cfg, _ := json.Marshal(map[string]any{
		"architecture": "amd64", "os": "linux",
		"config": map[string]any{"Labels": map[string]string{"org.berth.doctor": "true"}},
		"rootfs": map[string]any{"type": "layers", "diff_ids": []string{img.chunked.Digest, img.streamed.Digest}},
	})
	img.config = newBlob(mediaConfig, cfg)
	return img
}

// buildManifest describes the blobs that made it in, so one failed
// upload path does not hide what the manifest checks would say.
func (img *image) buildManifest() {
	layers := []*blob{}
	for _, l := range []*blob{img.chunked, img.streamed} {
		if l.pushed {
			layers = append(layers, l)
		}
	}
	img.manifest, _ = json.Marshal(map[string]any{
		"schemaVersion": 2, "mediaType": mediaManifest, "config": img.config, "layers": layers,
	})
}

// push runs the push, pull and cleanup checks in the generated
// repository; cleanup runs whatever happened before it.
func (r *run) push(ctx context.Context) {
	names := []string{CheckPushMonolithic, CheckPushChunked, CheckPushStreamed, CheckChunkLimit,
		CheckManifestPut, CheckManifestHead, CheckBlobHead, CheckManifestGet, CheckBlobGet, CheckTags, CheckCleanup}
	if r.opts.Username == "" || r.auth == "" {
		why := "needs a login that works: pass -u <namespace>/<user> --password-stdin"
		if r.opts.Username != "" {
			why = "neither the token nor Basic credentials were accepted"
		}
		for _, n := range names {
			r.add(skip(n, why))
		}
		return
	}
	r.img = newImage()
	defer func() { r.add(r.cleanup(context.WithoutCancel(ctx))) }()
	r.add(r.pushBlob(ctx, CheckPushMonolithic, r.img.config, r.monolithic))
	r.add(r.pushBlob(ctx, CheckPushChunked, r.img.chunked, r.chunks))
	r.add(r.pushBlob(ctx, CheckPushStreamed, r.img.streamed, r.stream))
	r.add(r.checkChunkLimit(ctx))
	r.pull(ctx)
}

// upload sends a blob's bytes to an open session and returns the commit
// PUT's target and body; a failure is the Result to report.
type upload func(ctx context.Context, b *blob, loc string) (string, []byte, *Result)

// pushBlob opens an upload session, lets send fill it, and commits it.
func (r *run) pushBlob(ctx context.Context, name string, b *blob, send upload) Result {
	const want = "202 on POST and each PATCH, then 201 with Docker-Content-Digest on PUT"
	loc, res := r.startUpload(ctx, name)
	if res != nil {
		return *res
	}
	put, body, failed := send(ctx, b, loc)
	if failed != nil {
		return *failed
	}
	ans, err := r.do(ctx, request{method: http.MethodPut, target: put, body: body, auth: r.auth,
		header: map[string]string{"Content-Type": "application/octet-stream"}})
	if err != nil {
		return fail(name, "PUT failed: "+err.Error(), want, FixReach)
	}
	if ans.StatusCode != http.StatusCreated {
		return fail(name, "PUT (commit): "+describe(ans), want, fixFor(ans))
	}
	if got := ans.Header.Get("Docker-Content-Digest"); got != "" && got != b.Digest {
		return fail(name, "Docker-Content-Digest "+got, "Docker-Content-Digest "+b.Digest, fixFunction(ans))
	}
	r.forget(put)
	b.pushed = true
	return ok(name, fmt.Sprintf("%d bytes, %s", b.Size, b.Digest))
}

// startUpload opens a session (POST) and returns its Location.
func (r *run) startUpload(ctx context.Context, name string) (string, *Result) {
	const want = "202 with Location on POST /v2/<name>/blobs/uploads/"
	ans, err := r.do(ctx, request{method: http.MethodPost, target: "/v2/" + r.repo + "/blobs/uploads/", auth: r.auth})
	if err != nil {
		res := fail(name, "POST failed: "+err.Error(), want, FixReach)
		return "", &res
	}
	loc := ans.Header.Get("Location")
	if ans.StatusCode != http.StatusAccepted || loc == "" {
		res := fail(name, "POST: "+describe(ans), want, fixFor(ans))
		return "", &res
	}
	if v, err := strconv.ParseInt(ans.Header.Get("OCI-Chunk-Max-Length"), 10, 64); err == nil && v > 0 {
		r.chunkMax = v
	}
	r.sessions = append(r.sessions, loc)
	return loc, nil
}

// forget drops a session (matched by path: registries may change the
// query from one request to the next) from those cleanup cancels.
func (r *run) forget(loc string) {
	for i, s := range r.sessions {
		if urlPath(s) == urlPath(loc) {
			r.sessions = append(r.sessions[:i], r.sessions[i+1:]...)
			return
		}
	}
}

func urlPath(s string) string {
	if u, err := url.Parse(s); err == nil {
		return u.Path
	}
	return s
}

// withDigest is a session URL with ?digest= added, for the commit PUT.
func withDigest(loc, d string) string {
	u, err := url.Parse(loc)
	if err != nil {
		return loc
	}
	q := u.Query()
	q.Set("digest", d)
	u.RawQuery = q.Encode()
	return u.String()
}

// monolithic sends the whole blob with the commit PUT (POST + PUT).
func (r *run) monolithic(_ context.Context, b *blob, loc string) (string, []byte, *Result) {
	return withDigest(loc, b.Digest), b.data, nil
}

// chunks sends the blob in two PATCHes with Content-Range and
// Content-Length, then commits with an empty PUT.
func (r *run) chunks(ctx context.Context, b *blob, loc string) (string, []byte, *Result) {
	half := len(b.data) / 2
	for _, part := range [][2]int{{0, half}, {half, len(b.data)}} {
		var res *Result
		if loc, res = r.patch(ctx, CheckPushChunked, b.data[part[0]:part[1]], loc, part[0], false); res != nil {
			return "", nil, res
		}
	}
	return withDigest(loc, b.Digest), nil, nil
}

// stream sends the blob in one PATCH without a length (Transfer-Encoding:
// chunked), as docker does, then commits with an empty PUT.
func (r *run) stream(ctx context.Context, b *blob, loc string) (string, []byte, *Result) {
	loc, res := r.patch(ctx, CheckPushStreamed, b.data, loc, 0, true)
	if res != nil {
		return "", nil, res
	}
	return withDigest(loc, b.Digest), nil, nil
}

// patch sends one chunk and checks the Range the registry acknowledges.
func (r *run) patch(ctx context.Context, name string, data []byte, loc string, offset int, streamed bool) (string, *Result) {
	end := offset + len(data) - 1
	want := fmt.Sprintf("202 with Range: 0-%d", end)
	h := map[string]string{"Content-Type": "application/octet-stream"}
	how := "PATCH"
	if streamed {
		how = "PATCH with Transfer-Encoding: chunked"
		want += " for a PATCH sent with Transfer-Encoding: chunked (docker's)"
	} else {
		h["Content-Range"] = fmt.Sprintf("%d-%d", offset, end)
	}
	ans, err := r.do(ctx, request{method: http.MethodPatch, target: loc, body: data, streamed: streamed, auth: r.auth, header: h})
	if err != nil {
		res := fail(name, how+" failed: "+err.Error(), want, FixReach)
		return "", &res
	}
	if ans.StatusCode != http.StatusAccepted {
		fix := fixFor(ans)
		if _, _, isReg := registryError(ans.Body); streamed && !isReg && ans.StatusCode < 500 {
			fix = FixChunked
		}
		res := fail(name, how+": "+describe(ans), want, fix)
		return "", &res
	}
	if got := ans.Header.Get("Range"); got != fmt.Sprintf("0-%d", end) {
		res := fail(name, how+": Range "+strconv.Quote(got), want, fixFunction(ans))
		return "", &res
	}
	next := ans.Header.Get("Location")
	if next == "" {
		next = loc
	}
	if next != loc {
		r.forget(loc)
		r.sessions = append(r.sessions, next)
	}
	return next, nil
}

// overLimit is how far past the advertised maximum the limit probe goes.
const overLimit = 1 << 20

// checkChunkLimit: the upload advertises OCI-Chunk-Max-Length, and a
// request over it gets the registry's own error, not a bare gateway one.
func (r *run) checkChunkLimit(ctx context.Context) Result {
	if r.chunkMax == 0 {
		return skip(CheckChunkLimit, "no OCI-Chunk-Max-Length advertised on upload responses: no per-request limit (a local gateway with BERTH_LIMITS=off)")
	}
	n := r.chunkMax + overLimit
	want := fmt.Sprintf("a registry JSON error (413 UNSUPPORTED) for a %d-byte PATCH", n)
	loc, failed := r.startUpload(ctx, CheckChunkLimit)
	if failed != nil {
		return *failed
	}
	data := make([]byte, n)
	_, _ = rand.Read(data)
	ans, err := r.do(ctx, request{method: http.MethodPatch, target: loc, body: data, auth: r.auth,
		header: map[string]string{"Content-Type": "application/octet-stream", "Content-Range": fmt.Sprintf("0-%d", n-1)}})
	if err != nil {
		return fail(CheckChunkLimit, fmt.Sprintf("a %d-byte PATCH failed: %v", n, err), want, FixBareLimit)
	}
	adv := fmt.Sprintf("advertises OCI-Chunk-Max-Length %d", r.chunkMax)
	if ans.StatusCode < 400 {
		return ok(CheckChunkLimit, fmt.Sprintf("%s; a %d-byte PATCH was accepted (%d): the front door carries more than advertised", adv, n, ans.StatusCode))
	}
	if _, _, isReg := registryError(ans.Body); !isReg {
		fix := FixBareLimit
		if ans.StatusCode >= 500 && ans.StatusCode != http.StatusServiceUnavailable {
			fix = FixBareLimit + "; " + fixFunction(ans)
		}
		return fail(CheckChunkLimit, adv+"; over it: "+describe(ans), want, fix)
	}
	return ok(CheckChunkLimit, adv+"; over it: "+describe(ans))
}
