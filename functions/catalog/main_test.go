package main

import (
	"testing"

	"github.com/berth-registry/berth/functions/internal/eventtest"
	"github.com/berth-registry/berth/functions/internal/linktest"
	"github.com/berth-registry/berth/shared/route"
)

// fn is the function under test.
const fn = route.Catalog

// TestEvents runs every events/catalog-*.json through the function as
// Lambda would: on an empty store, then on one with two repositories
// (dev/hello from a push, dev/world from a mount).
func TestEvents(t *testing.T) {
	empty := []eventtest.Case{
		{File: "catalog-list.json", Status: 200, Body: `{"repositories":[]}`,
			Headers: map[string]string{"Content-Type": "application/json"}},
	}
	two := []eventtest.Case{
		{File: "catalog-list-page.json", Status: 200, Body: `{"repositories":["dev/hello"]}`,
			Headers: map[string]string{"Link": `</v2/_catalog?last=dev%2Fhello&n=1>; rel="next"`}},
		{File: "catalog-list.json", Status: 200, Body: `{"repositories":["dev/hello","dev/world"]}`},
	}
	eventtest.Covered(t, fn, empty, two)
	t.Run("empty store", func(t *testing.T) { eventtest.Env(t); eventtest.Run(t, eventtest.Function(t, fn), empty) })
	t.Run("two repositories", func(t *testing.T) {
		cfg := eventtest.Env(t)
		eventtest.Seed(t, cfg, "uploads-post.json", "uploads-patch.json", "uploads-put.json", "uploads-post-mount.json")
		eventtest.Run(t, eventtest.Function(t, fn), two)
	})
}

// TestLinksOnlyWhatItServes: the bootstrap links the registry and the
// Lambda adapter, and no admin API, retention, local gateway, embedded
// store, KMS or SDK credential chain (docs/lambda-mode.md).
func TestLinksOnlyWhatItServes(t *testing.T) { linktest.CheckRegistry(t) }
