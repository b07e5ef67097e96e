package registry_test

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/registry"
	"github.com/berth-registry/berth/shared/registry/registrytest"
	"github.com/berth-registry/berth/shared/store/local"
)

// repeatedManifest is a 4 MiB image manifest that repeats one layer n
// times (padded with an annotation to the spec's limit).
func repeatedManifest(config, layer digest.Digest, configSize, layerSize, n int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, `{"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[`,
		oci.MediaTypeImageManifest, config, configSize)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"%s","size":%d}`, layer, layerSize)
	}
	b.WriteString(`],"annotations":{"pad":"`)
	if pad := oci.MaxManifestSize - b.Len() - 3; pad > 0 {
		b.WriteString(strings.Repeat("p", pad))
	}
	b.WriteString(`"}}`)
	return b.Bytes()
}

// BenchmarkPutManifestRepeatedLayers pushes a 4 MiB manifest that names
// one layer 20,000 times (seen: 5-7 s to accept, each reference checked
// and touched on its own), on the embedded store with garbage
// collection's touches on, as `berth serve` runs.
func BenchmarkPutManifestRepeatedLayers(b *testing.B) {
	dir := b.TempDir()
	meta, err := local.OpenMetadata(filepath.Join(dir, "metadata.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer meta.Close()
	objs, err := local.OpenObjects(filepath.Join(dir, "blobs"))
	if err != nil {
		b.Fatal(err)
	}
	reg := registry.New(meta, objs, registry.DefaultConfig(), registry.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	h := registrytest.Mux(reg)
	send := func(method, path string, body []byte, want int) {
		req := httptest.NewRequest(method, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", oci.MediaTypeImageManifest)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != want {
			b.Fatalf("%s %s: %d %.300s", method, path, rec.Code, rec.Body.String())
		}
	}
	config, layer := []byte(`{"architecture":"amd64","os":"linux"}`), bytes.Repeat([]byte("l"), 1024)
	cd, ld := digest.FromBytes(config), digest.FromBytes(layer)
	send("POST", "/v2/dev/repeat/blobs/uploads/?digest="+cd.String(), config, http.StatusCreated)
	send("POST", "/v2/dev/repeat/blobs/uploads/?digest="+ld.String(), layer, http.StatusCreated)
	m := repeatedManifest(cd, ld, len(config), len(layer), 20000)
	if len(m) != oci.MaxManifestSize {
		b.Fatalf("manifest is %d bytes, want %d", len(m), oci.MaxManifestSize)
	}
	b.SetBytes(int64(len(m)))
	for b.Loop() {
		send("PUT", "/v2/dev/repeat/manifests/latest", m, http.StatusCreated)
	}
}
