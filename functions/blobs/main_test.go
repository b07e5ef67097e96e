package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/berth-registry/berth/functions/internal/eventtest"
	"github.com/berth-registry/berth/functions/internal/linktest"
	"github.com/berth-registry/berth/shared/route"
)

// fn is the function under test.
const fn = route.Blobs

// TestEvents runs every events/blobs-*.json through the function as
// Lambda would, on a store holding the layer the uploads events push to
// dev/hello.
func TestEvents(t *testing.T) {
	cfg := eventtest.Env(t)
	eventtest.Seed(t, cfg, "uploads-post.json", "uploads-patch.json", "uploads-put.json")
	layer := slices.Concat(eventtest.Body(t, "uploads-patch.json"), eventtest.Body(t, "uploads-put.json"))
	digest := fmt.Sprintf("sha256:%x", sha256.Sum256(layer))
	// The redirect is a presigned S3 URL that serves the layer's bytes.
	redirect := func(t *testing.T, res events.APIGatewayV2HTTPResponse, _ []byte) {
		r, err := http.Get(eventtest.Header(res, "Location"))
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		got, err := io.ReadAll(r.Body)
		if err != nil || r.StatusCode != 200 || !bytes.Equal(got, layer) {
			t.Errorf("following the redirect: %d, %d bytes (%v); want 200 and the %d-byte layer", r.StatusCode, len(got), err, len(layer))
		}
	}
	cases := []eventtest.Case{
		{File: "blobs-head.json", Status: 200, Empty: true, Headers: map[string]string{
			"Content-Length": strconv.Itoa(len(layer)), "Docker-Content-Digest": digest}},
		// Knowing a digest grants nothing in a repository it is not linked to.
		{File: "blobs-head-other-repo.json", Status: 404, Empty: true},
		{File: "blobs-get.json", Status: 307, Headers: map[string]string{
			"Location": os.Getenv("AWS_ENDPOINT_URL_S3") + "/" + cfg.Bucket + "/blobs/*"}, Check: redirect},
		{File: "blobs-delete.json", Status: 202},
		{File: "blobs-head.json", Status: 404, Empty: true},
		{File: "blobs-get.json", Status: 404, Code: "BLOB_UNKNOWN"},
		{File: "blobs-delete.json", Status: 404, Code: "BLOB_UNKNOWN"},
	}
	eventtest.Covered(t, fn, cases)
	eventtest.Run(t, eventtest.Function(t, fn), cases)
}

// TestLinksOnlyWhatItServes: the bootstrap links the registry and the
// Lambda adapter, KMS only to open pull-through cache credentials (never
// the signing key's wiring), and no admin API, retention, local gateway,
// embedded store or SDK credential chain (docs/lambda-mode.md).
func TestLinksOnlyWhatItServes(t *testing.T) { linktest.CheckFilling(t) }
