package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/inprocess"
	"github.com/berth-registry/berth/shared/store"
)

// TestBlobsVerifyQuarantinesAndAPushHeals: a blob record whose object
// holds other bytes (as the race of two commits of one session left
// them) is found by `berth blobs verify`, which exits with an error and
// names it; the repository no longer serves it, and pushing the real
// bytes again makes every pull verify.
func TestBlobsVerifyQuarantinesAndAPushHeals(t *testing.T) {
	cfg := config.Config{Backend: "embedded", Data: t.TempDir(), Auth: true, Service: "berth",
		TokenTTL: 5 * time.Minute, PresignTTL: 15 * time.Minute, Tenancy: "dev", LogLevel: "error"}
	l, err := inprocess.New(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(l.Gateway)
	t.Cleanup(func() { srv.Close(); l.Close() })

	// The poisoned state: digest of real, object holding fake (same size).
	ctx := context.Background()
	real, fake := []byte("the real layer"), []byte("a fake layer!!")
	d := digest.FromBytes(real)
	if err := l.Stores.Blobs.Put(ctx, "blobs/poisoned", fake); err != nil {
		t.Fatal(err)
	}
	b := store.Blob{Digest: d, Size: int64(len(real)), Key: "blobs/poisoned", Created: time.Now().UTC()}
	if err := l.Stores.Meta.PutBlob(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := l.Stores.Meta.EnsureRepository(ctx, "dev/app"); err != nil {
		t.Fatal(err)
	}
	if err := l.Stores.Meta.LinkBlob(ctx, "dev/app", b); err != nil {
		t.Fatal(err)
	}

	tm := newTerm(t)
	if err := tm.login(srv.URL, "dev/admin", l.AdminToken); err != nil {
		t.Fatal(err)
	}
	out, err := tm.run("", "blobs", "verify")
	if err == nil || !strings.Contains(out, "MISMATCH "+d.String()) || !strings.Contains(out, "quarantined, unlinked from 1 repositories") {
		t.Fatalf("berth blobs verify: %v\n%s", err, out)
	}
	if !strings.Contains(tm.must("blobs", "verify", "--sample", "5"), "Checked 0 blobs") {
		t.Fatal("a quarantined record was checked again")
	}

	pull := func() (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/v2/dev/app/blobs/"+d.String(), nil)
		req.SetBasicAuth("dev/admin", l.AdminToken)
		res, err := http.DefaultClient.Do(req) // follows the redirect to storage
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return res.StatusCode, body
	}
	if code, _ := pull(); code != http.StatusNotFound {
		t.Fatalf("the quarantined blob still answers %d", code)
	}
	req, _ := http.NewRequest("POST", srv.URL+"/v2/dev/app/blobs/uploads/?digest="+d.String(), bytes.NewReader(real))
	req.SetBasicAuth("dev/admin", l.AdminToken)
	res, err := http.DefaultClient.Do(req)
	if err != nil || res.StatusCode != http.StatusCreated {
		t.Fatalf("pushing the real bytes again: %v %v", err, res)
	}
	res.Body.Close()
	if code, body := pull(); code != http.StatusOK || !bytes.Equal(body, real) {
		t.Fatalf("after the push: %d %q, want the real bytes", code, body)
	}
	if !strings.Contains(tm.must("blobs", "verify"), "Checked 1 blobs") {
		t.Fatal("the healed blob does not verify")
	}
}
