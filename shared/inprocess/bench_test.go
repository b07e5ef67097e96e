package inprocess_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/inprocess"
)

// BenchmarkManifestThroughGateway measures the local gateway's manifest
// HEAD and GET path in-process (route match, event, function, store),
// without the network: what the gateway adds per request.
func BenchmarkManifestThroughGateway(b *testing.B) {
	cfg := config.Config{Backend: "embedded", Data: b.TempDir(), Limits: true, PresignTTL: 15 * time.Minute}
	l, err := inprocess.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	h := l.Gateway
	do := func(method, url string, body []byte, ct string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, url, bytes.NewReader(body))
		if ct != "" {
			r.Header.Set("Content-Type", ct)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}
	cfgBlob := []byte(`{}`)
	d := digest.FromBytes(cfgBlob)
	if w := do("POST", "/v2/dev/app/blobs/uploads/?digest="+d.String(), cfgBlob, "application/octet-stream"); w.Code != 201 {
		b.Fatalf("blob push: %d %s", w.Code, w.Body)
	}
	man := []byte(`{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"` + d.String() + `","size":2},"layers":[]}`)
	if w := do("PUT", "/v2/dev/app/manifests/v1", man, "application/vnd.oci.image.manifest.v1+json"); w.Code != 201 {
		b.Fatalf("manifest push: %d %s", w.Code, w.Body)
	}
	for _, m := range []string{http.MethodHead, http.MethodGet} {
		b.Run(m, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if w := do(m, "/v2/dev/app/manifests/v1", nil, ""); w.Code != 200 {
					b.Fatalf("%s: %d", m, w.Code)
				}
			}
		})
	}
}
