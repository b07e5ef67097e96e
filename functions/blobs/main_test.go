package main

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/berth-registry/berth/functions/internal/eventtest"
	"github.com/berth-registry/berth/shared/route"
	"github.com/berth-registry/berth/shared/store/local"
)

// fn is the function under test.
const fn = route.Blobs

// TestEvents runs every events/blobs-*.json through the function as
// Lambda would, on a store holding the layer the uploads events push to
// dev/hello.
func TestEvents(t *testing.T) {
	dir := t.TempDir()
	eventtest.Seed(t, dir, "uploads-post.json", "uploads-patch.json", "uploads-put.json")
	layer := slices.Concat(eventtest.Body(t, "uploads-patch.json"), eventtest.Body(t, "uploads-put.json"))
	digest := fmt.Sprintf("sha256:%x", sha256.Sum256(layer))
	// The redirect must fetch the layer's bytes, as S3 would serve them.
	redirect := func(t *testing.T, res events.APIGatewayV2HTTPResponse, _ []byte) {
		objs, err := local.OpenObjects(filepath.Join(dir, "blobs"))
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		objs.ServeHTTP(rec, httptest.NewRequest("GET", eventtest.Header(res, "Location"), nil))
		if rec.Code != 200 || !bytes.Equal(rec.Body.Bytes(), layer) {
			t.Errorf("following the redirect: %d, %d bytes; want 200 and the %d-byte layer", rec.Code, rec.Body.Len(), len(layer))
		}
	}
	cases := []eventtest.Case{
		{File: "blobs-head.json", Status: 200, Empty: true, Headers: map[string]string{
			"Content-Length": strconv.Itoa(len(layer)), "Docker-Content-Digest": digest}},
		// Knowing a digest grants nothing in a repository it is not linked to.
		{File: "blobs-head-other-repo.json", Status: 404, Empty: true},
		{File: "blobs-get.json", Status: 307, Headers: map[string]string{
			"Location": "https://k7q2v9xw1e.execute-api.eu-west-1.amazonaws.com" + local.ObjectPathPrefix + "*"}, Check: redirect},
		{File: "blobs-delete.json", Status: 202},
		{File: "blobs-head.json", Status: 404, Empty: true},
		{File: "blobs-get.json", Status: 404, Code: "BLOB_UNKNOWN"},
		{File: "blobs-delete.json", Status: 404, Code: "BLOB_UNKNOWN"},
	}
	eventtest.Covered(t, fn, cases)
	eventtest.Run(t, eventtest.Function(t, fn, dir), cases)
}
