package main

import (
	"crypto/sha256"
	"fmt"
	"slices"
	"testing"

	"github.com/berth-registry/berth/functions/internal/eventtest"
	"github.com/berth-registry/berth/functions/internal/linktest"
	"github.com/berth-registry/berth/shared/route"
)

// fn is the function under test.
const fn = route.Uploads

// TestEvents runs every events/uploads-*.json through the function as
// Lambda would: a chunked push (POST, PATCH, status, PUT), a cancelled
// session, monolithic pushes and a cross-repository mount.
func TestEvents(t *testing.T) {
	chunk := eventtest.Body(t, "uploads-patch.json")
	layer := slices.Concat(chunk, eventtest.Body(t, "uploads-put.json"))
	layerDigest := fmt.Sprintf("sha256:%x", sha256.Sum256(layer))
	configDigest := fmt.Sprintf("sha256:%x", sha256.Sum256(eventtest.Body(t, "uploads-post-monolithic.json")))
	received := fmt.Sprintf("0-%d", len(chunk)-1)
	session := "/v2/dev/hello/blobs/uploads/*"
	cases := []eventtest.Case{
		{File: "uploads-get.json", Status: 404, Code: "BLOB_UPLOAD_UNKNOWN"},
		{File: "uploads-post.json", Status: 202, Empty: true, Headers: map[string]string{
			"Location": session, "Range": "0-0",
			"OCI-Chunk-Min-Length": "1048576", "OCI-Chunk-Max-Length": "4194304"}},
		{File: "uploads-patch.json", Status: 202, Headers: map[string]string{
			"Location": session, "Range": received, "OCI-Chunk-Max-Length": "4194304"}},
		{File: "uploads-get.json", Status: 204, Headers: map[string]string{"Location": session, "Range": received}},
		{File: "uploads-put.json", Status: 201, Headers: map[string]string{
			"Location": "/v2/dev/hello/blobs/" + layerDigest, "Docker-Content-Digest": layerDigest}},
		// A committed session is gone.
		{File: "uploads-get.json", Status: 404, Code: "BLOB_UPLOAD_UNKNOWN"},
		{File: "uploads-post.json", Status: 202, Headers: map[string]string{"Location": session}},
		{File: "uploads-delete.json", Status: 204},
		{File: "uploads-get.json", Status: 404, Code: "BLOB_UPLOAD_UNKNOWN"},
		{File: "uploads-post-monolithic.json", Status: 201, Headers: map[string]string{
			"Location": "/v2/dev/hello/blobs/" + configDigest, "Docker-Content-Digest": configDigest}},
		{File: "uploads-post-monolithic-empty.json", Status: 201, Headers: map[string]string{
			"Docker-Content-Digest": "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"}},
		{File: "uploads-post-mount.json", Status: 201, Headers: map[string]string{
			"Location": "/v2/dev/world/blobs/" + layerDigest, "Docker-Content-Digest": layerDigest}},
	}
	eventtest.Covered(t, fn, cases)
	eventtest.Env(t)
	eventtest.Run(t, eventtest.Function(t, fn), cases)
}

// TestLinksOnlyWhatItServes: the bootstrap links the registry and the
// Lambda adapter, and no admin API, retention, local gateway, embedded
// store, KMS or SDK credential chain (docs/lambda-mode.md).
func TestLinksOnlyWhatItServes(t *testing.T) { linktest.CheckRegistry(t) }
