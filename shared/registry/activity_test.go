package registry_test

import (
	"context"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/registry"
)

// TestRePushKeepsTheFirstPush: push and tag times come from the
// registry's clock; pushing the same manifest again (a re-push, or a
// re-tag as crane tag does) moves its last push and keeps its first.
func TestRePushKeepsTheFirstPush(t *testing.T) {
	day0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	now := day0
	cfg := registry.DefaultConfig()
	cfg.Now = func() time.Time { return now }
	e := newEnvConfig(t, cfg, nil)
	const repo = "foo/bar"
	body := mustJSON(t, e.image(t, repo, 1))
	d := e.putManifest(t, repo, "v1", oci.MediaTypeImageManifest, body)

	now = day0.AddDate(0, 0, 20)
	e.putManifest(t, repo, "v1-prod", oci.MediaTypeImageManifest, body)
	m, err := e.meta.GetManifest(context.Background(), repo, d)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Created.Equal(day0) || !m.LastPushed().Equal(now) {
		t.Errorf("after a re-tag on day 20: first pushed %v, last pushed %v; want day 0 and day 20", m.Created, m.LastPushed())
	}
	for tag, want := range map[string]time.Time{"v1": day0, "v1-prod": now} {
		if tg, err := e.meta.GetTag(context.Background(), repo, tag); err != nil || !tg.Updated.Equal(want) {
			t.Errorf("tag %s updated %v (%v), want %v", tag, tg.Updated, err, want)
		}
	}
}
