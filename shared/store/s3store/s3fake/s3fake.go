// Package s3fake runs gofakes3 (an in-memory S3 emulator) on a
// 127.0.0.1 listener, for tests and for scripts/run-aws-local.sh.
//
// What the emulator does not verify, so tests against it cannot catch:
// request signatures (presigned or not: any credentials and any
// signature pass, and an expired presigned URL still serves), the
// multipart minimum part size (s3store checks it itself), bucket
// lifecycle rules, and server-side encryption. It does check part
// ETags and order at completion, keys, ranges and Content-Length.
package s3fake

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// Handler returns a fresh in-memory S3 emulator.
func Handler() http.Handler {
	return gofakes3.New(s3mem.New(), gofakes3.WithLogger(gofakes3.DiscardLog())).Server()
}

// Start serves a fresh emulator on 127.0.0.1 until the test ends and
// returns its endpoint URL (http://127.0.0.1:port).
func Start(t testing.TB) string {
	t.Helper()
	srv := httptest.NewServer(Handler()) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	return srv.URL
}
