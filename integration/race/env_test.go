package race

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/integration/harness"
	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/inprocess"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/dynamo/dynalite"
	"github.com/berth-registry/berth/shared/store/s3store/s3fake"
)

// grace is the collector's grace period in the suite: an iteration that
// needs stale links moves the test clock past it (gc.go's assumption,
// a grace longer than any request, still holds: nothing moves the clock
// while requests race).
const grace = time.Minute

// env is the whole registry on one backend, as `berth serve` runs it:
// the local gateway with AWS's limits and authentication on, the test
// clock (the collector's cutoffs and the store's touch times alike, so
// moving it makes exactly what was touched before the move stale),
// garbage collection with a one-minute grace.
type env struct {
	backend string
	base    string // http://127.0.0.1:port
	local   *inprocess.Local
	basic   string // the bootstrap administrator's Authorization header
	logs    *harness.Logs
}

// backends are the backends every pair runs on.
var backends = []string{"embedded", "aws"}

// start starts a fresh registry on backend for one pair.
func start(t *testing.T, backend string) *env {
	t.Helper()
	for k, v := range map[string]string{
		"BERTH_GC_GRACE":            grace.String(),
		"BERTH_RETENTION_COOLING":   "0s",
		"BERTH_RETENTION_BIN":       "0s",
		"BERTH_RETENTION_MAX_SHARE": "1",
		"BERTH_RETENTION_MAX_COUNT": "-1",
		"BERTH_RETENTION_NOTICE":    "0s",
	} {
		t.Setenv(k, v)
	}
	key, err := auth.NewSigningKey()
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Config{
		Backend: backend, Data: t.TempDir(), Limits: true, PresignTTL: 15 * time.Minute, LogLevel: "warn",
		Auth: true, SigningKey: string(key), Service: "berth", Tenancy: "dev", TokenTTL: 5 * time.Minute,
		TestClock: true, // one clock for every recorded time, moved by POST /api/retention/clock
	}
	if backend == "aws" {
		if ep := os.Getenv(dynalite.EnvAWSEndpoint); ep != "" {
			harness.UseAWSEndpoints(t, ep, ep)
		} else {
			harness.UseAWSEndpoints(t, dynalite.Endpoint(t), s3fake.Start(t))
		}
		cfg.Table, cfg.Bucket, cfg.Init = dynalite.TableName("race"), dynalite.TableName("race"), true
	}
	e := &env{backend: backend, logs: &harness.Logs{}}
	host, l := harness.Start(t, cfg, harness.WithLogs(e.logs))
	e.base, e.local = "http://"+host, l
	e.basic = "Basic " + basic("dev/admin", l.AdminToken)
	if l.Retention == nil {
		t.Fatalf("the %s backend keeps no retention state", backend)
	}
	err = l.Stores.Meta.(store.Retention).PutRetentionPolicy(t.Context(), store.RetentionPolicy{
		Tenancy: "dev", Name: store.GlobalPolicy, UntaggedDays: 1, Version: 1})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func basic(user, secret string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(user, secret)
	return strings.TrimPrefix(req.Header.Get("Authorization"), "Basic ")
}

// response is what a request answered.
type response struct {
	status int
	header http.Header
	body   []byte
	err    error
}

// code is the response's first spec error code, or "".
func (r response) code() string {
	var e struct {
		Errors []struct{ Code string } `json:"errors"`
	}
	if json.Unmarshal(r.body, &e) == nil && len(e.Errors) > 0 {
		return e.Errors[0].Code
	}
	return ""
}

// String is the response as an outcome: "201", "404 BLOB_UPLOAD_UNKNOWN".
func (r response) String() string {
	if r.err != nil {
		return "error"
	}
	if c := r.code(); c != "" {
		return strconv.Itoa(r.status) + " " + c
	}
	return strconv.Itoa(r.status)
}

// client follows no redirects: the suite looks at each 307.
var client = &http.Client{
	Timeout:       2 * time.Minute,
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// do sends one request as the administrator; path is absolute or
// relative to the registry.
func (e *env) do(method, path string, body []byte, header ...string) response {
	u := path
	if strings.HasPrefix(path, "/") {
		u = e.base + path
	}
	req, err := http.NewRequestWithContext(context.Background(), method, u, bytes.NewReader(body))
	if err != nil {
		return response{err: err}
	}
	req.Header.Set("Authorization", e.basic)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := client.Do(req)
	if err != nil {
		return response{err: err}
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b, err: err}
}

// must sends a request that must answer want, and fails t otherwise.
func (e *env) must(t testing.TB, want int, method, path string, body []byte, header ...string) response {
	t.Helper()
	r := e.do(method, path, body, header...)
	if r.err != nil || r.status != want {
		t.Fatalf("%s %s: %v %d %s, want %d", method, path, r.err, r.status, r.body, want)
	}
	return r
}

// advance moves the test clock (retention's and the store's) forward.
func (e *env) advance(t testing.TB, d time.Duration) {
	t.Helper()
	e.must(t, 200, "POST", "/api/retention/clock", []byte(`{"advance":"`+d.String()+`"}`))
}

// random returns n random bytes (a fresh digest every time).
func random(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// pushBlob uploads b to repo in one POST.
func (e *env) pushBlob(t testing.TB, repo string, b []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(b)
	e.must(t, 201, "POST", "/v2/"+repo+"/blobs/uploads/?digest="+d.String(), b)
	return d
}

// session opens an upload session in repo and returns its location.
func (e *env) session(t testing.TB, repo string, query string) string {
	t.Helper()
	return e.must(t, 202, "POST", "/v2/"+repo+"/blobs/uploads/"+query, nil).header.Get("Location")
}

// pullBlob fetches d from repo, following the redirect to storage as a
// client does. It returns the HEAD and GET outcomes and the bytes.
func (e *env) pullBlob(repo string, d digest.Digest) (head, get int, body []byte, err error) {
	h := e.do("HEAD", "/v2/"+repo+"/blobs/"+d.String(), nil)
	g := e.do("GET", "/v2/"+repo+"/blobs/"+d.String(), nil)
	if h.err != nil || g.err != nil {
		return 0, 0, nil, fmt.Errorf("pull %s@%s: %v %v", repo, d, h.err, g.err)
	}
	if g.status != http.StatusTemporaryRedirect {
		return h.status, g.status, g.body, nil
	}
	res, err := http.Get(g.header.Get("Location"))
	if err != nil {
		return h.status, 0, nil, err
	}
	defer res.Body.Close()
	body, err = io.ReadAll(res.Body)
	return h.status, res.StatusCode, body, err
}

// checkBlob is the suite's first invariant for one digest in one
// repository: a blob that answers serves bytes that hash to it (HEAD
// and GET agree), and with mustExist it answers.
func (e *env) checkBlob(repo string, d digest.Digest, mustExist bool) error {
	head, get, body, err := e.pullBlob(repo, d)
	switch {
	case err != nil:
		return err
	case head == 404 && get == 404 && !mustExist:
		return nil
	case head != 200 || get != 200:
		return fmt.Errorf("%s@%s: HEAD %d, GET (after the redirect) %d", repo, d, head, get)
	case digest.FromBytes(body) != d:
		return fmt.Errorf("%s@%s serves %d bytes of digest %s", repo, d, len(body), digest.FromBytes(body))
	}
	return nil
}

// image is an image manifest of a config and layers, all uploaded.
type image struct {
	manifest []byte
	digest   digest.Digest
	blobs    []digest.Digest
}

const manifestType = "application/vnd.oci.image.manifest.v1+json"

// newImage uploads a fresh config and the layers given (a fresh one when
// none) to repo and returns their manifest (not pushed).
func (e *env) newImage(t testing.TB, repo string, layers ...[]byte) image {
	t.Helper()
	if len(layers) == 0 {
		layers = [][]byte{random(2048)}
	}
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"n":"` + digest.FromBytes(random(8)).Encoded() + `"}`)
	im := image{blobs: []digest.Digest{e.pushBlob(t, repo, cfg)}}
	var ls []string
	for _, l := range layers {
		d := e.pushBlob(t, repo, l)
		im.blobs = append(im.blobs, d)
		ls = append(ls, fmt.Sprintf(`{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}`, d, len(l)))
	}
	im.manifest = fmt.Appendf(nil, `{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[%s]}`,
		manifestType, im.blobs[0], len(cfg), strings.Join(ls, ","))
	im.digest = digest.FromBytes(im.manifest)
	return im
}

// variant returns the image with annotation race=k: another manifest of
// the same blobs.
func (im image) variant(k int) image {
	v := im
	v.manifest = fmt.Appendf(bytes.TrimSuffix(bytes.Clone(im.manifest), []byte("}")), `,"annotations":{"race":"%d"}}`, k)
	v.digest = digest.FromBytes(v.manifest)
	return v
}

// putManifest pushes an image's manifest under ref (a tag or its digest).
func (e *env) putManifest(im image, repo, ref string) response {
	return e.do("PUT", "/v2/"+repo+"/manifests/"+ref, im.manifest, "Content-Type", manifestType)
}

// checkImage is the invariant for an image: when ref answers, it names
// the image, and every blob of the image is pullable and verifies.
func (e *env) checkImage(repo, ref string, im image, mustExist bool) error {
	r := e.do("GET", "/v2/"+repo+"/manifests/"+ref, nil, "Accept", manifestType)
	switch {
	case r.err != nil:
		return r.err
	case r.status == 404 && !mustExist:
		return nil
	case r.status != 200:
		return fmt.Errorf("GET %s:%s: %s", repo, ref, r)
	case digest.FromBytes(r.body) != im.digest:
		return fmt.Errorf("%s:%s serves manifest %s, not %s", repo, ref, digest.FromBytes(r.body), im.digest)
	}
	for _, b := range im.blobs {
		if err := e.checkBlob(repo, b, true); err != nil {
			return fmt.Errorf("image %s:%s: %w", repo, ref, err)
		}
	}
	return nil
}

// storage says whether the object at key exists (the registry's layout:
// a blob uploaded through session <id> lives at blobs/<id>).
func (e *env) storage(t testing.TB, key string) bool {
	t.Helper()
	_, err := e.local.Stores.Blobs.Stat(context.Background(), key)
	return err == nil
}

// uploadID is the session id at the end of an upload location.
func uploadID(loc string) string { return loc[strings.LastIndex(loc, "/")+1:] }

func readCloser(b []byte) io.ReadCloser { return io.NopCloser(bytes.NewReader(b)) }
