package push_test

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/berth-registry/berth/shared/push"
	berth "github.com/berth-registry/berth/shared/registry"
	"github.com/berth-registry/berth/shared/registry/registrytest"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/local"
)

// plainStore hides the embedded store's direct-upload methods, as a
// registry without the extension would.
type plainStore struct{ store.BlobStore }

// TestUploadFallsBackToChunksWithoutDirectUploads pushes to a registry
// whose storage offers no direct uploads: the uploader sends PATCH
// chunks of the advertised OCI-Chunk-Max-Length instead.
func TestUploadFallsBackToChunksWithoutDirectUploads(t *testing.T) {
	dir := t.TempDir()
	meta, err := local.OpenMetadata(filepath.Join(dir, "meta.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer meta.Close()
	objs, err := local.OpenObjects(filepath.Join(dir, "blobs"))
	if err != nil {
		t.Fatal(err)
	}
	mux := registrytest.Mux(berth.New(meta, plainStore{objs}, berth.DefaultConfig(), berth.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))))
	var mu sync.Mutex
	var patches []int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPatch {
			mu.Lock()
			patches = append(patches, r.ContentLength)
			mu.Unlock()
		}
		mux.ServeHTTP(w, r)
	}))
	defer srv.Close()

	c, err := push.NewClient(srv.URL, "", "")
	if err != nil {
		t.Fatal(err)
	}
	data := randBytes(9*mib, 4)
	if err := (&push.Uploader{Client: c}).Upload(t.Context(), "r/x", blobOf(data), nil); err != nil {
		t.Fatalf("upload without direct uploads: %v", err)
	}
	if want := []int64{4 * mib, 4 * mib, mib}; len(patches) != 3 || patches[0] != want[0] || patches[1] != want[1] || patches[2] != want[2] {
		t.Errorf("PATCH lengths %v, want %v (OCI-Chunk-Max-Length chunks)", patches, want)
	}
	if ok, err := c.HasBlob(t.Context(), "r/x", blobOf(data).Digest); !ok || err != nil {
		t.Errorf("blob not in the registry after the fallback upload (%v)", err)
	}
}

func TestProgressBarsOnTerminalRedrawInPlace(t *testing.T) {
	var out bytes.Buffer
	bars := push.NewBars(&out, true)
	a := bars.Add("aaaaaaaaaaaa", 100)
	b := bars.Add("bbbbbbbbbbbb", 50)
	a.Set(push.StatusPushing)
	a.Add(50)
	b.Exists()
	bars.Start()
	bars.Stop()
	s := out.String()
	for _, want := range []string{
		"aaaaaaaaaaaa: Pushing     [=========================>                        ] 50B/100B",
		"bbbbbbbbbbbb: Layer already exists",
		"Total:",
		"100B/150B",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("terminal output lacks %q:\n%q", want, s)
		}
	}
	bars.Start()
	bars.Stop()
	if !strings.Contains(out.String(), "\x1b[3A") {
		t.Errorf("second draw does not move the cursor up over the 3 lines:\n%q", out.String())
	}
}
