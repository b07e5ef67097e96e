package pullthrough

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/registry"
	"github.com/berth-registry/berth/shared/store"
)

// BlobSource is how a blob the repository lacks is served.
type BlobSource = registry.BlobSource

// Blob answers a GET (or, with head, a HEAD) of blob d that repo lacks;
// ok is false when no rule covers repo. A HEAD asks the upstream and
// fills nothing. A GET claims the fill: its holder asks the upstream
// and, when it redirects, hands the client that URL at once and has the
// blob filled asynchronously; when it serves the bytes, a small blob is
// filled within the request and a larger one asynchronously while the
// request waits. Requests that find the claim held follow the holder's
// redirect or wait for the blob.
func (c *Cache) Blob(ctx context.Context, repo string, d digest.Digest, head bool) (BlobSource, bool, error) {
	t, ok, err := c.rules.cover(ctx, repo)
	if err != nil || !ok {
		return BlobSource{}, ok, err
	}
	if head {
		src, err := c.headBlob(ctx, t, repo, d)
		return src, true, err
	}
	deadline := c.deadline(ctx)
	for {
		f := c.claim(repo, d.String(), claimTTL)
		err := c.st.Fills.ClaimFill(ctx, f)
		if err == nil {
			// A fill may have ended between the registry's read and
			// the claim: look again before fetching.
			if _, err := c.st.Meta.GetLink(ctx, repo, d); err == nil {
				c.release(ctx, f)
				return BlobSource{Stored: true}, true, nil
			}
			src, err := c.lead(ctx, t, repo, d, f)
			return src, true, err
		} else if !errors.Is(err, store.ErrExists) {
			return BlobSource{}, true, err
		}
		for {
			held, err := c.st.Fills.GetFill(ctx, repo, d.String())
			if err == nil && held.Location != "" {
				return BlobSource{Location: held.Location}, true, nil
			} else if err != nil && !errors.Is(err, store.ErrNotFound) {
				return BlobSource{}, true, err
			}
			if _, err := c.st.Meta.GetLink(ctx, repo, d); err == nil {
				return BlobSource{Stored: true}, true, nil
			} else if !errors.Is(err, store.ErrNotFound) {
				return BlobSource{}, true, err
			}
			if held.Owner == "" {
				break // released (filled, or failed) or expired: claim again
			}
			if !c.sleep(ctx, deadline) {
				return BlobSource{}, true, stillFilling("blob " + d.String())
			}
		}
	}
}

// lead is the claim holder's part of a blob GET.
func (c *Cache) lead(ctx context.Context, t target, repo string, d digest.Digest, f store.Fill) (BlobSource, error) {
	what := "blob " + d.String()
	fail := func(err error) (BlobSource, error) {
		c.release(ctx, f)
		c.log.WarnContext(ctx, "pull-through blob fetch failed", "repository", repo, "digest", d.String(),
			"upstream", t.rule.Upstream, "error", err.Error())
		return BlobSource{}, clientError(err, errcode.BlobUnknown, what)
	}
	up, err := c.upstream(ctx, t)
	if err != nil {
		c.release(ctx, f)
		return BlobSource{}, err
	}
	res, err := up.get(ctx, http.MethodGet, "blobs/"+d.String(), "")
	if err != nil {
		return fail(err)
	}
	switch {
	case isRedirect(res.StatusCode):
		drain(res)
		loc, err := c.redirect(ctx, res)
		if err != nil {
			return fail(err)
		}
		// Later requests follow the same URL until the fill is done.
		f.Location, f.Expires = loc, c.cfg.Now().UTC().Add(c.cfg.FillTimeout)
		if err := c.st.Fills.UpdateFill(ctx, f); errors.Is(err, store.ErrConflict) {
			return BlobSource{Location: loc}, nil // taken over: the taker fills
		} else if err != nil {
			c.release(ctx, f)
			return BlobSource{}, err
		}
		if err := c.start(ctx, Job{Repo: repo, Digest: d, Owner: f.Owner, By: requester(ctx).String()}); err != nil {
			c.log.ErrorContext(ctx, "starting a pull-through fill failed", "repository", repo, "digest", d.String(), "error", err.Error())
			c.release(ctx, f)
		}
		return BlobSource{Location: loc}, nil
	case res.StatusCode == http.StatusOK && res.ContentLength >= 0 && res.ContentLength <= c.cfg.SmallBlob:
		defer res.Body.Close()
		b, err := c.write(ctx, res.Body, d, res.ContentLength)
		if err != nil {
			return fail(err)
		}
		err = c.commit(ctx, t, repo, b, requester(ctx))
		c.release(ctx, f)
		if err != nil {
			return BlobSource{}, err
		}
		return BlobSource{Stored: true}, nil
	case res.StatusCode == http.StatusOK:
		// Too large to fetch within the request: close it, have it
		// filled asynchronously, and wait (another request may come for
		// it once this one gives up).
		res.Body.Close()
		f.Expires = c.cfg.Now().UTC().Add(c.cfg.FillTimeout)
		if err := c.st.Fills.UpdateFill(ctx, f); errors.Is(err, store.ErrConflict) {
			return c.awaitBlob(ctx, repo, d) // taken over: the taker fills
		} else if err != nil {
			c.release(ctx, f)
			return BlobSource{}, err
		}
		if err := c.start(ctx, Job{Repo: repo, Digest: d, Owner: f.Owner, By: requester(ctx).String()}); err != nil {
			c.release(ctx, f)
			c.log.ErrorContext(ctx, "starting a pull-through fill failed", "repository", repo, "digest", d.String(), "error", err.Error())
			return BlobSource{}, errcode.New(errcode.Unavailable, "%s is too large to fetch within a request (%d bytes), and no fill could be started; retry later", what, res.ContentLength).
				WithStatus(http.StatusBadGateway)
		}
		return c.awaitBlob(ctx, repo, d)
	}
	drain(res)
	return fail(statusError(res.StatusCode))
}

// awaitBlob waits for a fill of d in repo to store it.
func (c *Cache) awaitBlob(ctx context.Context, repo string, d digest.Digest) (BlobSource, error) {
	deadline := c.deadline(ctx)
	for {
		if _, err := c.st.Meta.GetLink(ctx, repo, d); err == nil {
			return BlobSource{Stored: true}, nil
		} else if !errors.Is(err, store.ErrNotFound) {
			return BlobSource{}, err
		}
		if _, err := c.st.Fills.GetFill(ctx, repo, d.String()); errors.Is(err, store.ErrNotFound) {
			if _, err := c.st.Meta.GetLink(ctx, repo, d); err == nil {
				return BlobSource{Stored: true}, nil
			}
			return BlobSource{}, errcode.New(errcode.Unavailable, "blob %s could not be fetched from the upstream; retry later", d).
				WithStatus(http.StatusBadGateway)
		}
		if !c.sleep(ctx, deadline) {
			return BlobSource{}, stillFilling("blob " + d.String())
		}
	}
}

// headBlob answers a HEAD of a missing blob from the upstream.
func (c *Cache) headBlob(ctx context.Context, t target, repo string, d digest.Digest) (BlobSource, error) {
	up, err := c.upstream(ctx, t)
	if err != nil {
		return BlobSource{}, err
	}
	res, err := up.get(ctx, http.MethodHead, "blobs/"+d.String(), "")
	if err != nil {
		return BlobSource{}, clientError(err, errcode.BlobUnknown, "blob "+d.String())
	}
	drain(res)
	switch {
	case isRedirect(res.StatusCode):
		loc, err := c.redirect(ctx, res)
		if err != nil {
			return BlobSource{}, clientError(err, errcode.BlobUnknown, "blob "+d.String())
		}
		return BlobSource{Location: loc}, nil
	case res.StatusCode == http.StatusOK:
		n, err := strconv.ParseInt(res.Header.Get("Content-Length"), 10, 64)
		if err != nil || n < 0 {
			n = res.ContentLength
		}
		return BlobSource{Size: n}, nil
	}
	return BlobSource{}, clientError(statusError(res.StatusCode), errcode.BlobUnknown, "blob "+d.String())
}

func isRedirect(status int) bool {
	switch status {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther, http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return true
	}
	return false
}

// redirect returns the absolute URL an upstream's redirect names, once
// checkURL allows it.
func (c *Cache) redirect(ctx context.Context, res *http.Response) (string, error) {
	loc, err := res.Location()
	if err != nil {
		return "", errors.Join(errDown, errors.New("a redirect without a usable Location"))
	}
	if err := checkURL(ctx, loc, c.cfg.Insecure); err != nil {
		return "", errors.Join(errDown, errors.New("the upstream redirected to "+hostOf(loc)+": "+err.Error()))
	}
	return loc.String(), nil
}

// hostOf is the host of u, for logs (a signed URL's query is a secret).
func hostOf(u *url.URL) string { return u.Scheme + "://" + u.Host }
