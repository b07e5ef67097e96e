package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/functions/internal/eventtest"
	"github.com/berth-registry/berth/functions/internal/linktest"
	"github.com/berth-registry/berth/shared/app/fillfn"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/inprocess"
	"github.com/berth-registry/berth/shared/pullthrough"
	"github.com/berth-registry/berth/shared/store"
)

// TestEvents runs events/fill-job.json through the function's handler:
// under the claim the job names, it fetches the layer from an upstream
// registry (a Berth of its own, whose blob GETs redirect to signed
// URLs), verifies it, and links it into the cached repository; a job
// whose claim another holds does nothing.
func TestEvents(t *testing.T) {
	eventtest.CoveredFiles(t, "fill", "fill-job.json")
	job := eventtest.Decode[pullthrough.Job](t, "fill-job.json")
	layer := slices.Concat(eventtest.Body(t, "uploads-patch.json"), eventtest.Body(t, "uploads-put.json"))
	if d := fmt.Sprintf("sha256:%x", sha256.Sum256(layer)); d != job.Digest.String() {
		t.Fatalf("fill-job.json names %s; the uploads events push %s", job.Digest, d)
	}
	upstream := startUpstream(t)
	push(t, upstream+"/v2/library/hello/blobs/uploads/?digest="+job.Digest.String(), layer)

	cfg := eventtest.Env(t)
	t.Setenv("BERTH_CACHE_INSECURE", "1") // the upstream is on the loopback
	t.Setenv("BERTH_LOG_LEVEL", "error")
	stores := eventtest.Stores(t, cfg)
	cache := stores.Meta.(store.Cache)
	now := time.Now().UTC()
	for _, err := range []error{
		cache.PutCacheRule(t.Context(), store.CacheRule{Tenancy: "dev", Prefix: "dev/hub", Upstream: upstream, Library: true, Refresh: time.Hour, Version: 1}),
		cache.ClaimFill(t.Context(), store.Fill{Repo: job.Repo, Ref: job.Digest.String(), Owner: job.Owner, Started: now, Expires: now.Add(time.Minute)}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}

	f, err := fillfn.Function(context.Background())
	if err != nil {
		t.Fatalf("FillFunction: %v", err)
	}
	t.Cleanup(func() { f.Stores.Close() })

	other := job
	other.Owner = "someone-else"
	if err := f.Handle(t.Context(), other); err != nil {
		t.Fatalf("a job whose claim another holds: %v", err)
	}
	if _, err := f.Stores.Meta.GetLink(t.Context(), job.Repo, job.Digest); err == nil {
		t.Fatal("a job whose claim another holds filled the blob")
	}

	if err := f.Handle(t.Context(), job); err != nil {
		t.Fatalf("fill-job.json: %v", err)
	}
	b, err := f.Stores.Meta.GetLink(t.Context(), job.Repo, job.Digest)
	if err != nil {
		t.Fatalf("after the fill the layer is not linked into %s: %v", job.Repo, err)
	}
	got, err := f.Stores.Blobs.Get(t.Context(), b.Key)
	if err != nil || !bytes.Equal(got, layer) || b.Size != int64(len(layer)) {
		t.Fatalf("the filled object holds %d bytes (%v), want the %d-byte layer", len(got), err, len(layer))
	}
	if _, err := f.Stores.Meta.(store.Fills).GetFill(t.Context(), job.Repo, job.Digest.String()); err == nil {
		t.Error("the claim is still held after the fill")
	}
	events, err := f.Stores.IDs.ListAudit(t.Context(), "dev", "", 10)
	if err != nil || len(events) == 0 || events[0].Action != "fill blob" || events[0].Principal != "dev/admin" ||
		!strings.Contains(events[0].Detail, "/library/hello") {
		t.Errorf("audit trail = %+v (%v), want the fill by dev/admin first", events, err)
	}
}

// startUpstream serves a registry of its own (anonymous, embedded
// storage) on a loopback port.
func startUpstream(t *testing.T) string {
	t.Helper()
	l, err := inprocess.New(t.Context(), config.Config{Backend: "embedded", Data: t.TempDir(), PresignTTL: time.Minute},
		slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(l.Gateway)
	t.Cleanup(func() { srv.Close(); l.Close() })
	return srv.URL
}

func push(t *testing.T, url string, body []byte) {
	t.Helper()
	res, err := http.Post(url, "application/octet-stream", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(res.Body)
		t.Fatalf("push to the upstream: %d %s", res.StatusCode, b)
	}
}

// TestLinksOnlyWhatItServes: the fill function links the cache, the
// stores and shared/awscall (kms:Decrypt opens upstream credentials),
// and no registry API wiring, admin API, retention, SDK KMS or Lambda
// client, local gateway or embedded store.
func TestLinksOnlyWhatItServes(t *testing.T) {
	linktest.Check(t, slices.Concat(linktest.Every, linktest.NoKMS, []string{
		"github.com/berth-registry/berth/shared/admin", "github.com/berth-registry/berth/shared/retention",
		"github.com/berth-registry/berth/shared/app/registryfn", "github.com/aws/aws-sdk-go-v2/service/lambda",
	}), []string{
		"github.com/berth-registry/berth/shared/pullthrough", "github.com/berth-registry/berth/shared/awscall",
	})
}
