package registry

import (
	"context"
	"errors"
	"sync"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/store"
)

// manifestRefs are what a manifest references, each digest once: a manifest
// may repeat one descriptor thousands of times (4 MiB holds some 28,000),
// and each is checked, touched and stored once.
type manifestRefs struct {
	// children are the child manifests of an index.
	children []digest.Digest
	// blobs are the config and the distributable layers, which must be
	// in the repository (non-distributable layers live elsewhere).
	blobs []digest.Digest
}

// distinctRefs lists a manifest's references in order, without repeats.
func distinctRefs(m *oci.Manifest) manifestRefs {
	seen := map[digest.Digest]bool{}
	var out manifestRefs
	add := func(list *[]digest.Digest, d digest.Digest) {
		if !seen[d] {
			seen[d] = true
			*list = append(*list, d)
		}
	}
	for _, c := range m.Manifests {
		add(&out.children, c.Digest)
	}
	if m.Config != nil {
		add(&out.blobs, m.Config.Digest)
	}
	for _, l := range m.Layers {
		if !oci.NonDistributable(l.MediaType) {
			add(&out.blobs, l.Digest)
		}
	}
	return out
}

// checkReferences refuses a manifest whose blobs or child manifests are
// not in the repository (spec: "the registry MAY reject ... MUST NOT
// accept ... referenced blobs that are unknown" is left to the registry;
// Berth enforces it, except for non-distributable layers).
func (reg *Registry) checkReferences(ctx context.Context, name string, r manifestRefs) error {
	missing := func(d digest.Digest, what string) error {
		e := errcode.New(errcode.ManifestBlobUnknown, "%s %s is not in repository %q; push it first", what, d, name)
		e.Detail = map[string]string{"digest": d.String()}
		return e
	}
	err := each(len(r.children), func(i int) error {
		if _, err := reg.meta.GetManifest(ctx, name, r.children[i]); errors.Is(err, store.ErrNotFound) {
			return missing(r.children[i], "child manifest")
		} else if err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		return err
	}
	return each(len(r.blobs), func(i int) error {
		b := r.blobs[i]
		_, err := reg.meta.GetLink(ctx, name, b)
		if errors.Is(err, store.ErrNotFound) {
			if e := reg.unverified(ctx, name, b); e != nil {
				return e // a direct upload still verifying it (direct_verify.go)
			}
			return missing(b, "blob")
		}
		return err
	})
}

// eachWidth is how many reference checks (or touches) a manifest push
// has in flight at once: an index may name thousands of manifests, each
// one read.
const eachWidth = 16

// each runs f(0..n-1), eachWidth at a time, and returns the error of
// the lowest i that failed (so the answer does not depend on timing).
func each(n int, f func(i int) error) error {
	errs := make([]error, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(n, eachWidth) {
		wg.Go(func() {
			for i := range next {
				errs[i] = f(i)
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
