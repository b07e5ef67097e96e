// Package usage counts the bytes repositories and tenancies store, and
// enforces tenancies' soft quotas (docs/usage.md). Garbage collection's
// mark pass feeds a Tally with every blob link it keeps; the registry
// asks a Checker before it takes a blob.
package usage

import (
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
)

// Tally adds up links: which repositories link each blob, and its size.
type Tally struct {
	blobs map[digest.Digest]*blob
	repos map[string][]digest.Digest
}

type blob struct {
	size      int64
	repos     int
	tenancies []string
}

// NewTally returns an empty Tally.
func NewTally() *Tally {
	return &Tally{blobs: map[digest.Digest]*blob{}, repos: map[string][]digest.Digest{}}
}

// Repository makes repo known, so that it is counted even if it links
// nothing.
func (t *Tally) Repository(repo string) {
	if _, ok := t.repos[repo]; !ok {
		t.repos[repo] = nil
	}
}

// Link counts a blob of size bytes linked in repo (once per repository
// and digest).
func (t *Tally) Link(repo string, d digest.Digest, size int64) {
	b, ok := t.blobs[d]
	if !ok {
		b = &blob{size: size}
		t.blobs[d] = b
	}
	b.repos++
	ten := tenancyOf(repo)
	found := false
	for _, x := range b.tenancies {
		found = found || x == ten
	}
	if !found {
		b.tenancies = append(b.tenancies, ten)
	}
	t.repos[repo] = append(t.repos[repo], d)
}

func tenancyOf(repo string) string {
	t, _, _ := strings.Cut(repo, "/")
	return t
}

// Usage returns a record per repository and per tenancy, measured at
// at, tenancies' first, each kind by name.
func (t *Tally) Usage(at time.Time) []store.Usage {
	tens := map[string]*store.Usage{}
	tenBlobs := map[string]map[digest.Digest]bool{}
	var repos []store.Usage
	for repo, ds := range t.repos {
		ten := tenancyOf(repo)
		u := store.Usage{Kind: store.UsageRepository, Name: repo, Tenancy: ten, Measured: at}
		tu, ok := tens[ten]
		if !ok {
			tu = &store.Usage{Kind: store.UsageTenancy, Name: ten, Tenancy: ten, Measured: at}
			tens[ten], tenBlobs[ten] = tu, map[digest.Digest]bool{}
		}
		for _, d := range ds {
			b := t.blobs[d]
			u.Bytes += b.size
			u.Blobs++
			if b.repos == 1 {
				u.Unique += b.size
			} else {
				u.Shared += b.size
			}
			if tenBlobs[ten][d] {
				continue
			}
			tenBlobs[ten][d] = true
			tu.Bytes += b.size
			tu.Blobs++
			if len(b.tenancies) == 1 {
				tu.Unique += b.size
			} else {
				tu.Shared += b.size
			}
		}
		repos = append(repos, u)
	}
	out := make([]store.Usage, 0, len(tens)+len(repos))
	for _, u := range tens {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	sort.Slice(repos, func(i, j int) bool { return repos[i].Name < repos[j].Name })
	return append(out, repos...)
}
