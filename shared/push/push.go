package push

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/berth-registry/berth/shared/oci"
)

// Reference is where an image goes: a repository and a tag or digest.
type Reference struct {
	Repo string
	// Tag is the tag to push (empty when Digest is set).
	Tag    string
	Digest digest.Digest
}

// ParseReference parses "<repo>[:<tag>|@<digest>]" (tag "latest" when
// neither is given).
func ParseReference(s string) (Reference, error) {
	var r Reference
	if repo, d, ok := strings.Cut(s, "@"); ok {
		dg, err := oci.ParseDigest(d)
		if err != nil {
			return r, err
		}
		r.Repo, r.Digest = repo, dg
	} else {
		r.Repo, r.Tag = s, "latest"
		if i := strings.LastIndex(s, ":"); i > strings.LastIndex(s, "/") {
			r.Repo, r.Tag = s[:i], s[i+1:]
		}
		if !oci.ValidTag(r.Tag) {
			return r, fmt.Errorf("tag %q does not match [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}", r.Tag)
		}
	}
	if err := oci.ValidName(r.Repo); err != nil {
		return r, err
	}
	return r, nil
}

// String is the reference as ParseReference reads it.
func (r Reference) String() string {
	if r.Digest != "" {
		return r.Repo + "@" + r.Digest.String()
	}
	return r.Repo + ":" + r.Tag
}

// PutManifest pushes a manifest under ref (a tag or digest) and returns
// its digest as the registry computed it.
func (c *Client) PutManifest(ctx context.Context, repo, ref string, m Manifest) (digest.Digest, error) {
	h := http.Header{"Content-Type": {m.MediaType}}
	res, err := c.Do(ctx, http.MethodPut, "/v2/"+repo+"/manifests/"+ref, m.Body, h, repo)
	if err != nil {
		return "", err
	}
	defer drain(res)
	if res.StatusCode != http.StatusCreated {
		return "", responseError(res, "push manifest "+repo+":"+ref)
	}
	return digest.Digest(res.Header.Get("Docker-Content-Digest")), nil
}

// Push sends img to ref: every blob (compressing layers one at a time,
// each compression itself parallel, while earlier layers upload), then
// the manifests, children first. It returns the pushed manifest's
// digest. bars may be nil.
func Push(ctx context.Context, up *Uploader, img *Image, ref Reference, bars *Bars) (digest.Digest, error) {
	up.init()
	var compressing sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	for _, p := range img.Blobs {
		var bar *Bar
		if bars != nil {
			bar = bars.Add(p.ID, p.Size)
		}
		g.Go(func() error {
			if p.Prepare != nil {
				compressing.Lock()
				bar.Set(StatusCompressing)
				b, err := p.Prepare(gctx, bar)
				compressing.Unlock()
				if err != nil {
					return err
				}
				p.Blob, p.Prepare = b, nil
				bar.Reset(b.Size)
			}
			return up.Upload(gctx, ref.Repo, p.Blob, bar)
		})
	}
	if err := g.Wait(); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", err
	}
	mans, err := img.Manifests()
	if err != nil {
		return "", err
	}
	var d digest.Digest
	for i, m := range mans {
		tag := m.Digest().String()
		if i == len(mans)-1 && ref.Tag != "" {
			tag = ref.Tag
		}
		if ref.Digest != "" && i == len(mans)-1 && m.Digest() != ref.Digest {
			return "", fmt.Errorf("the image's manifest is %s, not %s", m.Digest(), ref.Digest)
		}
		if d, err = up.Client.PutManifest(ctx, ref.Repo, tag, m); err != nil {
			return "", err
		}
	}
	return d, nil
}
