package main

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/berth-registry/berth/functions/internal/eventtest"
	"github.com/berth-registry/berth/functions/internal/linktest"
	"github.com/berth-registry/berth/shared/route"
)

// fn is the function under test.
const fn = route.Referrers

// TestEvents runs every events/referrers-*.json through the function as
// Lambda would, on a store where dev/hello holds an image and an
// attestation whose subject is that image (pushed with the uploads and
// manifests events).
func TestEvents(t *testing.T) {
	cfg := eventtest.Env(t)
	eventtest.Seed(t, cfg, "uploads-post.json", "uploads-patch.json", "uploads-put.json",
		"uploads-post-monolithic.json", "uploads-post-monolithic-empty.json",
		"manifests-put.json", "manifests-put-referrer.json")
	referrer := eventtest.Body(t, "manifests-put-referrer.json")
	var attestation struct{ ArtifactType string }
	if err := json.Unmarshal(referrer, &attestation); err != nil {
		t.Fatal(err)
	}
	const emptyIndex = `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}`
	index := func(t *testing.T, _ events.APIGatewayV2HTTPResponse, body []byte) {
		var got struct {
			SchemaVersion int
			MediaType     string
			Manifests     []struct {
				MediaType, Digest, ArtifactType string
				Size                            int
			}
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("index %s: %v", body, err)
		}
		want := fmt.Sprintf("sha256:%x", sha256.Sum256(referrer))
		if got.SchemaVersion != 2 || got.MediaType != "application/vnd.oci.image.index.v1+json" || len(got.Manifests) != 1 {
			t.Fatalf("index %s, want one referrer", body)
		}
		d := got.Manifests[0]
		if d.Digest != want || d.Size != len(referrer) || d.ArtifactType != attestation.ArtifactType ||
			d.MediaType != "application/vnd.oci.image.manifest.v1+json" {
			t.Errorf("referrer %+v, want %s of %d bytes, artifactType %s", d, want, len(referrer), attestation.ArtifactType)
		}
	}
	cases := []eventtest.Case{
		{File: "referrers-list.json", Status: 200, Check: index,
			Headers: map[string]string{"Content-Type": "application/vnd.oci.image.index.v1+json"}},
		{File: "referrers-list-filtered.json", Status: 200, Body: emptyIndex,
			Headers: map[string]string{"OCI-Filters-Applied": "artifactType"}},
		// An unknown subject has no referrers, which is no error.
		{File: "referrers-list-unknown.json", Status: 200, Body: emptyIndex,
			Headers: map[string]string{"Content-Type": "application/vnd.oci.image.index.v1+json"}},
	}
	eventtest.Covered(t, fn, cases)
	eventtest.Run(t, eventtest.Function(t, fn), cases)
}

// TestLinksOnlyWhatItServes: the bootstrap links the registry and the
// Lambda adapter, and no admin API, retention, local gateway, embedded
// store, KMS or SDK credential chain (docs/lambda-mode.md).
func TestLinksOnlyWhatItServes(t *testing.T) { linktest.CheckRegistry(t) }
