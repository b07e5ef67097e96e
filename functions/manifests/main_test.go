package main

import (
	"crypto/sha256"
	"fmt"
	"strconv"
	"testing"

	"github.com/berth-registry/berth/functions/internal/eventtest"
	"github.com/berth-registry/berth/functions/internal/linktest"
	"github.com/berth-registry/berth/shared/route"
)

// fn is the function under test.
const fn = route.Manifests

// TestEvents runs every events/manifests-*.json through the function as
// Lambda would, on a store holding the image's blobs (pushed with the
// uploads events): pull before push, push, pull, attach a referrer,
// delete.
func TestEvents(t *testing.T) {
	cfg := eventtest.Env(t)
	eventtest.Seed(t, cfg, "uploads-post.json", "uploads-patch.json", "uploads-put.json",
		"uploads-post-monolithic.json", "uploads-post-monolithic-empty.json")
	manifest := eventtest.Body(t, "manifests-put.json")
	digest := fmt.Sprintf("sha256:%x", sha256.Sum256(manifest))
	referrer := fmt.Sprintf("sha256:%x", sha256.Sum256(eventtest.Body(t, "manifests-put-referrer.json")))
	const ociManifest = "application/vnd.oci.image.manifest.v1+json"
	cases := []eventtest.Case{
		{File: "manifests-get-unknown.json", Status: 404, Code: "MANIFEST_UNKNOWN"},
		// HEAD answers errors without a body.
		{File: "manifests-head.json", Status: 404, Empty: true},
		{File: "manifests-put.json", Status: 201, Empty: true, Headers: map[string]string{
			"Location": "/v2/dev/hello/manifests/" + digest, "Docker-Content-Digest": digest, "OCI-Tag": "v1"}},
		{File: "manifests-get.json", Status: 200, Body: string(manifest), Headers: map[string]string{
			"Content-Type": ociManifest, "Docker-Content-Digest": digest}},
		{File: "manifests-head.json", Status: 200, Empty: true, Headers: map[string]string{
			"Content-Type": ociManifest, "Content-Length": strconv.Itoa(len(manifest)), "Docker-Content-Digest": digest}},
		{File: "manifests-put-referrer.json", Status: 201, Headers: map[string]string{
			"Docker-Content-Digest": referrer, "OCI-Subject": digest}},
		// The authorizer's 403 stands, and the manifest stays.
		{File: "manifests-delete-denied.json", Status: 403, Code: "DENIED"},
		{File: "manifests-head.json", Status: 200},
		{File: "manifests-delete.json", Status: 202},
		// Its tag went with it.
		{File: "manifests-get.json", Status: 404, Code: "MANIFEST_UNKNOWN"},
		{File: "manifests-delete.json", Status: 404, Code: "MANIFEST_UNKNOWN"},
	}
	eventtest.Covered(t, fn, cases)
	eventtest.Run(t, eventtest.Function(t, fn), cases)
}

// TestLinksOnlyWhatItServes: the bootstrap links the registry and the
// Lambda adapter, KMS only to open pull-through cache credentials (never
// the signing key's wiring), and no admin API, retention, local gateway,
// embedded store or SDK credential chain (docs/lambda-mode.md).
func TestLinksOnlyWhatItServes(t *testing.T) { linktest.CheckFilling(t) }
