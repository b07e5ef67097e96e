package main

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	berthusage "github.com/berth-registry/berth/shared/usage"
)

// berth images list and get print an image's size (config + layers),
// its pusher and its layers; berth repos list filters by name.
func TestCLIImages(t *testing.T) {
	url, l := localRegistry(t)
	host := strings.TrimPrefix(url, "http://")
	img, err := random.Image(3000, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(host+"/dev/app:v1", name.Insecure)
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "dev/admin", Password: l.AdminToken})); err != nil {
		t.Fatal(err)
	}
	d, _ := img.Digest()
	m, _ := img.Manifest()
	total := m.Config.Size
	for _, ly := range m.Layers {
		total += ly.Size
	}
	tm := newTerm(t)
	if err := tm.login(host, "dev/admin", l.AdminToken); err != nil {
		t.Fatal(err)
	}
	tm.must("repos", "create", "dev/team/app")
	out := tm.must("images", "list", "dev/app")
	if !strings.Contains(out, d.String()) || !strings.Contains(out, berthusage.Bytes(total)) || !strings.Contains(out, "dev/admin") || !strings.Contains(out, "v1") {
		t.Errorf("images list printed %q, want %s, %s, dev/admin, v1", out, d, berthusage.Bytes(total))
	}
	out = tm.must("images", "get", "dev/app@"+d.String())
	for _, want := range []string{"Image size:   " + berthusage.Bytes(total), "Pushed by:    dev/admin", m.Layers[0].Digest.String(), m.Layers[1].Digest.String(), "Config:       " + m.Config.Digest.String()} {
		if !strings.Contains(out, want) {
			t.Errorf("images get printed %q, want %q in it", out, want)
		}
	}
	tm.fails("<repository>@<digest>", "images", "get", "dev/app")
	if out := tm.must("repos", "list", "--prefix", "ap"); !strings.Contains(out, "dev/app") || strings.Contains(out, "dev/team/app") {
		t.Errorf("repos list --prefix ap printed %q", out)
	}
	if out := tm.must("repos", "list", "--contains", "team"); strings.Contains(out, "dev/app ") || !strings.Contains(out, "dev/team/app") {
		t.Errorf("repos list --contains team printed %q", out)
	}
}
