package pullthrough

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/content"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/store"
)

// refreshTTL is the claim on re-checking a tag: of the requests that
// find it due at once, one asks the upstream.
const refreshTTL = 30 * time.Second

// Manifest fetches manifest ref (a tag or a digest) of repo, which the
// store lacks, from repo's upstream and stores it as a push would, the
// tag pointing at it; ok is false when no rule covers repo. Of the
// requests that miss it at once, one fetches and the others wait for
// what it stores.
func (c *Cache) Manifest(ctx context.Context, repo, ref string) (store.Manifest, bool, error) {
	t, ok, err := c.rules.cover(ctx, repo)
	if err != nil || !ok {
		return store.Manifest{}, ok, err
	}
	claimRef := ref
	if !oci.IsDigest(ref) {
		claimRef = "tag:" + ref
	}
	deadline := c.deadline(ctx)
	for {
		f := c.claim(repo, claimRef, claimTTL)
		err := c.st.Fills.ClaimFill(ctx, f)
		if err == nil {
			// A fill may have ended between the registry's read and
			// the claim: look again before fetching.
			man, err := c.stored(ctx, repo, ref)
			if errors.Is(err, store.ErrNotFound) {
				man, err = c.fetchManifest(ctx, t, repo, ref)
			}
			c.release(ctx, f)
			return man, true, err
		} else if !errors.Is(err, store.ErrExists) {
			return store.Manifest{}, true, err
		}
		// Another request is fetching it: wait for what it stores, or
		// for its claim to go (then try to claim it ourselves).
		for {
			if man, err := c.stored(ctx, repo, ref); err == nil {
				return man, true, nil
			} else if !errors.Is(err, store.ErrNotFound) {
				return store.Manifest{}, true, err
			}
			if _, err := c.st.Fills.GetFill(ctx, repo, claimRef); errors.Is(err, store.ErrNotFound) {
				if man, err := c.stored(ctx, repo, ref); err == nil || !errors.Is(err, store.ErrNotFound) {
					return man, true, err
				}
				break
			} else if err != nil {
				return store.Manifest{}, true, err
			}
			if !c.sleep(ctx, deadline) {
				return store.Manifest{}, true, stillFilling("manifest " + repo + ":" + ref)
			}
		}
	}
}

// stored reads manifest ref of repo from the store.
func (c *Cache) stored(ctx context.Context, repo, ref string) (store.Manifest, error) {
	d := digest.Digest(ref)
	if !oci.IsDigest(ref) {
		tag, err := c.st.Meta.GetTag(ctx, repo, ref)
		if err != nil {
			return store.Manifest{}, err
		}
		d = tag.Digest
	}
	return c.st.Meta.GetManifest(ctx, repo, d)
}

// fetchManifest GETs manifest ref from t's upstream, verifies its
// digest and stores it in repo (tagged, when ref is a tag).
func (c *Cache) fetchManifest(ctx context.Context, t target, repo, ref string) (store.Manifest, error) {
	what := "manifest " + repo + ":" + ref
	if oci.IsDigest(ref) {
		what = "manifest " + repo + "@" + ref
	}
	fail := func(err error) (store.Manifest, error) {
		c.log.WarnContext(ctx, "pull-through manifest fetch failed", "repository", repo, "ref", ref,
			"upstream", t.rule.Upstream, "error", err.Error())
		return store.Manifest{}, clientError(err, errcode.ManifestUnknown, what)
	}
	up, err := c.upstream(ctx, t)
	if err != nil {
		return store.Manifest{}, err
	}
	res, err := up.get(ctx, http.MethodGet, "manifests/"+ref, manifestAccept)
	if err != nil {
		return fail(err)
	}
	defer drain(res)
	if res.StatusCode != http.StatusOK {
		return fail(statusError(res.StatusCode))
	}
	body, err := io.ReadAll(io.LimitReader(res.Body, oci.MaxManifestSize+1))
	if err != nil {
		return fail(fmt.Errorf("%w: reading the manifest: %v", errDown, err))
	}
	if len(body) > oci.MaxManifestSize {
		return store.Manifest{}, errcode.New(errcode.ManifestInvalid, "%s: the upstream's manifest is over the %d-byte limit", what, oci.MaxManifestSize).WithStatus(http.StatusBadGateway)
	}
	d, err := verifyManifest(ref, res.Header.Get("Docker-Content-Digest"), body)
	if err != nil {
		c.log.WarnContext(ctx, "pull-through manifest refused", "repository", repo, "ref", ref, "upstream", t.rule.Upstream, "error", err.Error())
		return store.Manifest{}, errcode.New(errcode.DigestInvalid, "%s: %v; nothing was stored", what, err).WithStatus(http.StatusBadGateway)
	}
	parsed, mediaType, err := oci.ParseManifest(res.Header.Get("Content-Type"), body)
	if err != nil {
		return store.Manifest{}, errcode.New(errcode.ManifestInvalid, "%s: the upstream's manifest cannot be stored: %v", what, err).WithStatus(http.StatusBadGateway)
	}
	tag := ""
	if !oci.IsDigest(ref) {
		tag = ref
	}
	return c.storeManifest(ctx, t, repo, d, mediaType, body, parsed, tag)
}

// verifyManifest returns the digest of a manifest fetched as ref: the
// digest ref names, which the bytes must have; for a tag, their sha256,
// which the upstream's Docker-Content-Digest must not contradict.
func verifyManifest(ref, header string, body []byte) (digest.Digest, error) {
	if oci.IsDigest(ref) {
		want, err := oci.ParseDigest(ref)
		if err != nil {
			return "", err
		}
		if got := want.Algorithm().FromBytes(body); got != want {
			return "", fmt.Errorf("the upstream served a manifest whose digest is %s, not %s", got, want)
		}
		return want, nil
	}
	d := digest.SHA256.FromBytes(body)
	if h, err := digest.Parse(header); err == nil && h.Algorithm().Available() && h.Algorithm().FromBytes(body) != h {
		return "", fmt.Errorf("the upstream's Docker-Content-Digest %s does not match the manifest it served", h)
	}
	return d, nil
}

// storeManifest stores a fetched manifest in repo (kept as it is when
// stored already) and, when tag is set, points the tag at it, confirmed
// now.
func (c *Cache) storeManifest(ctx context.Context, t target, repo string, d digest.Digest, mediaType string, body []byte, parsed *oci.Manifest, tag string) (store.Manifest, error) {
	now := c.cfg.Now().UTC()
	man, err := c.st.Meta.GetManifest(ctx, repo, d)
	if errors.Is(err, store.ErrNotFound) {
		man = content.Manifest(repo, d, mediaType, body, parsed, now)
		if err := content.Keep(ctx, c.st.Blobs, &man, body, c.cfg.InlineManifestMax); err != nil {
			return man, err
		}
		if err := c.st.Meta.EnsureRepository(ctx, repo); err != nil {
			return man, fmt.Errorf("create repository: %w", err)
		}
		if err := c.st.Meta.PutManifest(ctx, man); err != nil {
			return man, fmt.Errorf("put manifest: %w", err)
		}
	} else if err != nil {
		return man, err
	}
	if tag != "" {
		err := c.st.Meta.PutTag(ctx, store.Tag{Repo: repo, Name: tag, Digest: d, MediaType: man.MediaType, Size: man.Size, Updated: now, Checked: now})
		if err != nil {
			return man, fmt.Errorf("put tag: %w", err)
		}
	}
	detail := "from " + t.rule.Upstream + "/" + t.name
	if tag != "" {
		detail += ":" + tag
	}
	c.record(ctx, requester(ctx), "fill manifest", repo+"@"+d.String(), detail)
	return man, nil
}

// Refresh re-checks cached tag tg with one upstream HEAD once its rule's
// refresh interval has passed since the upstream last confirmed it, and
// moves it (fetching the new manifest) when the upstream's moved. It
// returns the tag to serve and, when the upstream could not be asked, a
// Warning header value saying the copy may be stale. A tag whose rule
// is gone is served as it is.
func (c *Cache) Refresh(ctx context.Context, tg store.Tag) (store.Tag, string, error) {
	t, ok, err := c.rules.cover(ctx, tg.Repo)
	if err != nil || !ok {
		return tg, "", err
	}
	now := c.cfg.Now()
	if now.Sub(tg.Checked) < t.rule.Refresh {
		return tg, "", nil
	}
	f := c.claim(tg.Repo, "refresh:"+tg.Name, refreshTTL)
	if err := c.st.Fills.ClaimFill(ctx, f); errors.Is(err, store.ErrExists) {
		return tg, "", nil // another request is asking
	} else if err != nil {
		return tg, "", err
	}
	defer c.release(ctx, f)
	stale := func(why error) (store.Tag, string, error) {
		c.log.WarnContext(ctx, "pull-through tag refresh failed; serving the cached copy", "repository", tg.Repo, "tag", tg.Name,
			"upstream", t.rule.Upstream, "error", why.Error())
		return tg, staleWarning(tg, t.rule.Upstream, why), nil
	}
	up, err := c.upstream(ctx, t)
	if err != nil {
		return stale(err)
	}
	res, err := up.get(ctx, http.MethodHead, "manifests/"+tg.Name, manifestAccept)
	if err != nil {
		return stale(err)
	}
	drain(res)
	if res.StatusCode != http.StatusOK {
		return stale(statusError(res.StatusCode))
	}
	d, err := digest.Parse(res.Header.Get("Docker-Content-Digest"))
	if err != nil {
		// No digest in the HEAD: the GET says, and is stored as a move.
		if _, err := c.fetchManifest(ctx, t, tg.Repo, tg.Name); err != nil {
			return stale(err)
		}
		moved, err := c.st.Meta.GetTag(ctx, tg.Repo, tg.Name)
		return moved, "", err
	}
	if d == tg.Digest {
		tg.Checked = c.cfg.Now().UTC()
		return tg, "", c.st.Meta.PutTag(ctx, tg)
	}
	man, err := c.fetchManifest(ctx, t, tg.Repo, d.String())
	if err != nil {
		return stale(err)
	}
	now = c.cfg.Now().UTC()
	moved := store.Tag{Repo: tg.Repo, Name: tg.Name, Digest: man.Digest, MediaType: man.MediaType, Size: man.Size, Updated: now, Checked: now}
	if err := c.st.Meta.PutTag(ctx, moved); err != nil {
		return tg, "", err
	}
	c.record(ctx, requester(ctx), "fill tag", tg.Repo+":"+tg.Name, "moved from "+tg.Digest.String()+" to "+man.Digest.String()+" as "+t.rule.Upstream+"/"+t.name)
	return moved, "", nil
}

// staleWarning is the Warning a stale copy is served with (299: the
// code docker and containerd print).
func staleWarning(tg store.Tag, upstream string, why error) string {
	reason := "could not be reached"
	switch {
	case errors.Is(why, errNotFound):
		reason = "no longer has it"
	case errors.Is(why, errRefused):
		reason = "refused Berth's request"
	case errors.Is(why, errThrottled):
		reason = "is limiting Berth's requests"
	}
	return fmt.Sprintf(`299 - "%s:%s is served from the pull-through cache as %s last confirmed it at %s: the upstream %s, so it may be stale"`,
		tg.Repo, tg.Name, upstream, tg.Checked.UTC().Format(time.RFC3339), reason)
}
