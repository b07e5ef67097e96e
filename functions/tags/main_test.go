package main

import (
	"testing"

	"github.com/berth-registry/berth/functions/internal/eventtest"
	"github.com/berth-registry/berth/functions/internal/linktest"
	"github.com/berth-registry/berth/shared/route"
)

// fn is the function under test.
const fn = route.Tags

// TestEvents runs every events/tags-*.json through the function as
// Lambda would, on a store where dev/hello holds the image tagged v1
// (pushed with the uploads and manifests events).
func TestEvents(t *testing.T) {
	cfg := eventtest.Env(t)
	eventtest.Seed(t, cfg, "uploads-post.json", "uploads-patch.json", "uploads-put.json",
		"uploads-post-monolithic.json", "manifests-put.json")
	cases := []eventtest.Case{
		{File: "tags-list.json", Status: 200, Body: `{"name":"dev/hello","tags":["v1"]}`,
			Headers: map[string]string{"Content-Type": "application/json"}},
		{File: "tags-list-unknown.json", Status: 404, Code: "NAME_UNKNOWN"},
	}
	eventtest.Covered(t, fn, cases)
	eventtest.Run(t, eventtest.Function(t, fn), cases)
}

// TestLinksOnlyWhatItServes: the bootstrap links the registry and the
// Lambda adapter, and no admin API, retention, local gateway, embedded
// store, KMS or SDK credential chain (docs/lambda-mode.md).
func TestLinksOnlyWhatItServes(t *testing.T) { linktest.CheckRegistry(t) }
