package registry_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/registry"
	"github.com/berth-registry/berth/shared/registry/registrytest"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/local"
)

// Special WantHeader values: a header that must be missing, and one that
// must be there with any value.
const (
	absent  = "<absent>"
	present = "<present>"
)

// Case is one request and what the registry must answer, in the style of
// go-containerregistry's pkg/registry tests. Cases of one table run in
// order against one registry, so a case may depend on earlier ones.
type Case struct {
	Description string
	Method      string
	URL         string
	Body        []byte
	Header      map[string]string
	Code        int
	// WantHeader values must match exactly (several values joined with
	// ","), or be absent or present.
	WantHeader map[string]string
	// WantErrCode is the spec error code of an error answer; every error
	// answer's body is checked for the spec's shape whether or not it is
	// set.
	WantErrCode errcode.Code
	// WantBody, when set, is the exact response body.
	WantBody string
	// Check, when set, inspects the body further.
	Check func(t *testing.T, body []byte)
}

// env is a registry over embedded stores in a temp dir, served by an
// httptest server that also serves the stores' signed object URLs.
type env struct {
	dir    string
	meta   *local.Metadata
	objs   *local.Objects
	srv    *httptest.Server
	client *http.Client // does not follow redirects
	logs   *syncBuffer
}

// syncBuffer collects log output written from server goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func newEnv(t *testing.T) *env { t.Helper(); return newEnvWith(t, nil) }

// newEnvWith builds an env whose registry uses wrap(objects) as its blob
// store when wrap is not nil.
func newEnvWith(t *testing.T, wrap func(*local.Objects) store.BlobStore) *env {
	t.Helper()
	return newEnvConfig(t, registry.DefaultConfig(), wrap)
}

// newEnvConfig is newEnvWith with the registry's configuration given.
func newEnvConfig(t *testing.T, cfg registry.Config, wrap func(*local.Objects) store.BlobStore) *env {
	t.Helper()
	e := &env{dir: t.TempDir(), logs: &syncBuffer{}}
	var err error
	if e.meta, err = local.OpenMetadata(filepath.Join(e.dir, "metadata.db")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.meta.Close() })
	if e.objs, err = local.OpenObjects(filepath.Join(e.dir, "blobs")); err != nil {
		t.Fatal(err)
	}
	var blobs store.BlobStore = e.objs
	if wrap != nil {
		blobs = wrap(e.objs)
	}
	reg := registry.New(e.meta, blobs, cfg, registry.WithLogger(slog.New(slog.NewTextHandler(e.logs, nil))))
	mux := registrytest.Mux(reg)
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, local.ObjectPathPrefix) {
			e.objs.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(e.srv.Close)
	e.client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return e
}

// do sends one request; url may be a path on the server.
func (e *env) do(t *testing.T, method, url string, body []byte, header map[string]string) (*http.Response, []byte) {
	t.Helper()
	if strings.HasPrefix(url, "/") {
		url = e.srv.URL + url
	}
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := e.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, b
}

// run runs a table of cases in order.
func (e *env) run(t *testing.T, cases []Case) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.Description, func(t *testing.T) {
			res, body := e.do(t, tc.Method, tc.URL, tc.Body, tc.Header)
			if res.StatusCode != tc.Code {
				t.Fatalf("%s %s: status %d, want %d; body %.300s", tc.Method, tc.URL, res.StatusCode, tc.Code, body)
			}
			if v := res.Header.Get("Docker-Distribution-API-Version"); v != "registry/2.0" {
				t.Errorf("Docker-Distribution-API-Version = %q", v)
			}
			checkHeaders(t, res.Header, tc.WantHeader)
			if tc.Code >= 400 {
				checkError(t, tc.Method, res, body, tc.WantErrCode)
			} else if tc.WantErrCode != "" {
				t.Fatalf("bad case: WantErrCode with status %d", tc.Code)
			}
			if tc.WantBody != "" && string(body) != tc.WantBody {
				t.Errorf("body = %.300s\nwant   %.300s", body, tc.WantBody)
			}
			if tc.Check != nil {
				tc.Check(t, body)
			}
		})
	}
}

func checkHeaders(t *testing.T, h http.Header, want map[string]string) {
	t.Helper()
	for k, w := range want {
		got := strings.Join(h.Values(k), ",")
		switch {
		case w == absent && got != "":
			t.Errorf("header %s = %q, want none", k, got)
		case w == present && got == "":
			t.Errorf("header %s missing", k)
		case w != absent && w != present && got != w:
			t.Errorf("header %s = %q, want %q", k, got, w)
		}
	}
}

// genericMessage is what a client sees of an internal failure.
var genericMessage = errcode.From(errors.New("internal")).Message

// checkError asserts an error answer is the spec's JSON error body,
// {"errors":[{"code","message","detail"?}]}, with the wanted code, and
// that a 500 says nothing of its cause.
func checkError(t *testing.T, method string, res *http.Response, body []byte, want errcode.Code) {
	t.Helper()
	if method == http.MethodHead {
		if len(body) != 0 {
			t.Errorf("HEAD error has a body: %q", body)
		}
		return
	}
	if ct := res.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("error Content-Type = %q", ct)
	}
	var eb struct {
		Errors []struct {
			Code    errcode.Code    `json:"code"`
			Message string          `json:"message"`
			Detail  json.RawMessage `json:"detail"`
		} `json:"errors"`
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&eb); err != nil {
		t.Fatalf("error body %q is not the spec's shape: %v", body, err)
	}
	if len(eb.Errors) != 1 || eb.Errors[0].Code == "" || eb.Errors[0].Message == "" {
		t.Fatalf("error body %s: want one error with code and message", body)
	}
	got := eb.Errors[0]
	if want != "" && got.Code != want {
		t.Errorf("error code = %s, want %s (message %q)", got.Code, want, got.Message)
	}
	if res.StatusCode >= 500 && got.Message != genericMessage {
		t.Errorf("500 message %q leaks more than %q", got.Message, genericMessage)
	}
}

// randBytes returns n deterministic pseudo-random bytes.
func randBytes(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// pushBlob uploads data to repo in one POST and returns its digest.
func (e *env) pushBlob(t *testing.T, repo string, data []byte) digest.Digest {
	t.Helper()
	d := digest.FromBytes(data)
	res, body := e.do(t, http.MethodPost, "/v2/"+repo+"/blobs/uploads/?digest="+d.String(), data, nil)
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("push blob to %s: %d %s", repo, res.StatusCode, body)
	}
	return d
}

// putManifest pushes a manifest and returns its digest.
func (e *env) putManifest(t *testing.T, repo, ref, mediaType string, body []byte) digest.Digest {
	t.Helper()
	res, b := e.do(t, http.MethodPut, "/v2/"+repo+"/manifests/"+ref, body, map[string]string{"Content-Type": mediaType})
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("put manifest %s:%s: %d %s", repo, ref, res.StatusCode, b)
	}
	return digest.Digest(res.Header.Get("Docker-Content-Digest"))
}

// image pushes a config and one layer to repo and returns an OCI image
// manifest referring to them (not pushed). seed varies the content.
func (e *env) image(t *testing.T, repo string, seed uint64) oci.Manifest {
	t.Helper()
	cfg := []byte(fmt.Sprintf(`{"architecture":"amd64","os":"linux","variant":"v%d"}`, seed))
	layer := randBytes(1024, seed)
	return oci.Manifest{
		SchemaVersion: 2,
		MediaType:     oci.MediaTypeImageManifest,
		Config:        &oci.Descriptor{MediaType: "application/vnd.oci.image.config.v1+json", Digest: e.pushBlob(t, repo, cfg), Size: int64(len(cfg))},
		Layers:        []oci.Descriptor{{MediaType: "application/vnd.oci.image.layer.v1.tar+gzip", Digest: e.pushBlob(t, repo, layer), Size: int64(len(layer))}},
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// follow GETs a blob, expects a 307 to a signed URL, and returns what
// that URL serves.
func (e *env) follow(t *testing.T, path string) []byte {
	t.Helper()
	res, body := e.do(t, http.MethodGet, path, nil, nil)
	if res.StatusCode != http.StatusTemporaryRedirect {
		t.Fatalf("GET %s: %d %s, want 307", path, res.StatusCode, body)
	}
	loc := res.Header.Get("Location")
	if !strings.HasPrefix(loc, e.srv.URL+local.ObjectPathPrefix) {
		t.Fatalf("Location %q is not a signed object URL on this server", loc)
	}
	res, body = e.do(t, http.MethodGet, loc, nil, nil)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET signed URL: %d %s", res.StatusCode, body)
	}
	return body
}

// leftovers lists files an upload may leave behind: tails under
// objects/uploads and multipart part directories.
func (e *env) leftovers(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, sub := range []string{"objects/uploads", "multipart"} {
		root := filepath.Join(e.dir, "blobs", sub)
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil
			}
			if err != nil {
				return err
			}
			if p != root && (!d.IsDir() || sub == "multipart") {
				out = append(out, strings.TrimPrefix(p, e.dir))
			}
			return nil
		})
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	return out
}
