package main

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	berthusage "github.com/berth-registry/berth/shared/usage"
)

// berth repos list and berth usage show print what the collection's
// mark pass measured; berth usage set-quota sets the quota usage show
// prints.
func TestCLIUsage(t *testing.T) {
	url, l := localRegistry(t)
	host := strings.TrimPrefix(url, "http://")
	img, err := random.Image(4096, 2)
	if err != nil {
		t.Fatal(err)
	}
	ref, _ := name.ParseReference(host+"/dev/app:v1", name.Insecure)
	if err := remote.Write(ref, img, remote.WithAuth(&authn.Basic{Username: "dev/admin", Password: l.AdminToken})); err != nil {
		t.Fatal(err)
	}
	var total int64
	layers, _ := img.Layers()
	for _, ly := range layers {
		n, _ := ly.Size()
		total += n
	}
	cf, _ := img.RawConfigFile()
	total += int64(len(cf))
	size := berthusage.Bytes(total)
	tm := newTerm(t)
	if err := tm.login(host, "dev/admin", l.AdminToken); err != nil {
		t.Fatal(err)
	}
	if out := tm.must("repos", "list"); !strings.Contains(out, "STORED") || !strings.Contains(out, "dev/app") || !strings.Contains(out, " - ") {
		t.Errorf("repos list before any collection printed %q, want dev/app with no usage yet", out)
	}
	if _, err := l.Retention.Collect(t.Context(), time.Now()); err != nil {
		t.Fatal(err)
	}
	if out := tm.must("repos", "list"); !strings.Contains(out, size+"  "+size+"  0 B") {
		t.Errorf("repos list printed %q, want dev/app storing its two layers and config, %s, unique", out, size)
	}
	tm.must("usage", "set-quota", "1G")
	out := tm.must("usage", "show")
	for _, want := range []string{"Quota:     1.0 GiB", "Stored:    " + size + " (unique " + size + ", shared 0 B) in 3 blobs", "dev/app"} {
		if !strings.Contains(out, want) {
			t.Errorf("usage show printed %q, want %q in it", out, want)
		}
	}
	tm.must("usage", "remove-quota")
	if out := tm.must("usage", "show"); !strings.Contains(out, "Quota:     none") {
		t.Errorf("after remove-quota: %q", out)
	}
	tm.fails("not a size", "usage", "set-quota", "lots")
}
