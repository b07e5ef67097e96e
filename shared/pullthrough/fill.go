package pullthrough

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/content"
	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/store"
)

// Job is an asynchronous fill of one blob (events/fill-job.json): the
// payload of the fill function's invocation. It names only what to fill
// and the claim it runs under; the upstream comes from the rule that
// covers the repository when the job runs, never from the job.
type Job struct {
	Repo   string        `json:"repository"`
	Digest digest.Digest `json:"digest"`
	// Owner is the claim the job fills under (store.Fill.Owner).
	Owner string `json:"owner"`
	// By is who pulled ("<tenancy>/<user>", or "anonymous"), for the
	// audit trail.
	By string `json:"by,omitempty"`
}

// start runs j through the Dispatcher, or in a goroutine of this
// process when there is none.
func (c *Cache) start(ctx context.Context, j Job) error {
	if c.dispatch != nil {
		return c.dispatch.DispatchFill(ctx, j)
	}
	c.inflight.Go(func() {
		// The request's values (its id, for the logs), not its end: the
		// fill outlives the request, until the process closes.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.FillTimeout)
		defer cancel()
		stop := context.AfterFunc(c.closing, cancel)
		defer stop()
		if err := c.Fill(ctx, j); err != nil {
			c.log.ErrorContext(ctx, "pull-through fill failed", "repository", j.Repo, "digest", j.Digest.String(), "error", err.Error())
		}
	})
	return nil
}

// Fill runs an asynchronous fill: under j's claim (taken again when it
// was given back, as after a failed try that Lambda retries), it
// streams the blob from the upstream into object storage in parts,
// verifies its digest, and only then records and links it. A job whose
// claim another holds, or whose blob is stored already, does nothing.
// An error is worth retrying; a fill that cannot succeed (the upstream
// lacks the blob, the digest does not match) returns nil.
func (c *Cache) Fill(ctx context.Context, j Job) error {
	if err := oci.ValidName(j.Repo); err != nil {
		return fmt.Errorf("fill job: %w", err)
	}
	if err := j.Digest.Validate(); err != nil || j.Owner == "" {
		return fmt.Errorf("fill job: digest %q, owner %q", j.Digest, j.Owner)
	}
	held, err := c.st.Fills.GetFill(ctx, j.Repo, j.Digest.String())
	switch {
	case errors.Is(err, store.ErrNotFound):
		f := c.claim(j.Repo, j.Digest.String(), c.cfg.FillTimeout)
		f.Owner = j.Owner
		if err := c.st.Fills.ClaimFill(ctx, f); errors.Is(err, store.ErrExists) {
			return nil
		} else if err != nil {
			return err
		}
		held = f
	case err != nil:
		return err
	case held.Owner != j.Owner:
		return nil // taken over
	}
	if _, err := c.st.Meta.GetLink(ctx, j.Repo, j.Digest); err == nil {
		c.release(ctx, held)
		return nil
	}
	t, ok, err := c.rules.cover(ctx, j.Repo)
	if err != nil || !ok {
		c.release(ctx, held)
		return err
	}
	err = c.fillBlob(ctx, t, j, held.Location)
	c.release(ctx, held)
	if errors.Is(err, errNotFound) || errors.Is(err, errDigest) {
		c.log.WarnContext(ctx, "pull-through fill gave up", "repository", j.Repo, "digest", j.Digest.String(), "upstream", t.rule.Upstream, "error", err.Error())
		return nil
	}
	return err
}

// errDigest is a fill whose bytes are not what their digest says.
var errDigest = errors.New("digest mismatch")

// fillBlob fetches, stores and records one blob: from loc, the signed
// URL the upstream gave the claim's holder (no second request to the
// upstream's registry), else (or when it no longer works) from the
// upstream's blob endpoint.
func (c *Cache) fillBlob(ctx context.Context, t target, j Job, loc string) error {
	up, err := c.upstream(ctx, t)
	if err != nil {
		return err
	}
	var res *http.Response
	if loc != "" {
		res, err = c.fetchSigned(ctx, up, loc)
		if err != nil {
			c.log.InfoContext(ctx, "pull-through fill: the upstream's signed URL failed; asking the upstream again", "repository", j.Repo, "digest", j.Digest.String(), "error", err.Error())
		}
	}
	if res == nil {
		if res, err = c.follow(ctx, up, "blobs/"+j.Digest.String()); err != nil {
			return err
		}
	}
	defer res.Body.Close()
	b, err := c.write(ctx, res.Body, j.Digest, res.ContentLength)
	if err != nil {
		return err
	}
	by := auth.Principal{}
	if ten, user, ok := strings.Cut(j.By, "/"); ok {
		by = auth.Principal{Tenancy: ten, User: user}
	}
	return c.commit(ctx, t, j.Repo, b, by)
}

// follow GETs path of up, following up to five redirects.
func (c *Cache) follow(ctx context.Context, up *upstream, path string) (*http.Response, error) {
	res, err := up.get(ctx, http.MethodGet, path, "")
	if err != nil {
		return nil, err
	}
	return c.followFrom(ctx, up, res, 0)
}

// fetchSigned GETs loc, a URL an upstream redirected to (checked again:
// it came from the store), following up to five redirects.
func (c *Cache) fetchSigned(ctx context.Context, up *upstream, loc string) (*http.Response, error) {
	u, err := url.Parse(loc)
	if err != nil {
		return nil, err
	}
	if err := checkURL(ctx, u, c.cfg.Insecure); err != nil {
		return nil, err
	}
	res, err := c.hop(ctx, up, u, "")
	if err != nil {
		return nil, err
	}
	return c.followFrom(ctx, up, res, 1)
}

// followFrom follows res's redirects that checkURL allows, up to five
// hops in all, and returns the 200 they end in.
func (c *Cache) followFrom(ctx context.Context, up *upstream, res *http.Response, hops int) (*http.Response, error) {
	for ; isRedirect(res.StatusCode); hops++ {
		drain(res)
		if hops == 5 {
			return nil, fmt.Errorf("%w: more than 5 redirects", errDown)
		}
		loc, err := c.redirect(ctx, res)
		if err != nil {
			return nil, err
		}
		u, _ := url.Parse(loc)
		if res, err = c.hop(ctx, up, u, res.Request.Header.Get("Authorization")); err != nil {
			return nil, err
		}
	}
	if res.StatusCode != http.StatusOK {
		drain(res)
		return nil, statusError(res.StatusCode)
	}
	return res, nil
}

// hop GETs u; auth (the upstream's Authorization) goes only to the
// upstream's own origin (signed storage URLs carry their authority in
// the query).
func (c *Cache) hop(ctx context.Context, up *upstream, u *url.URL, auth string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("User-Agent", UserAgent)
	if auth != "" && u.Scheme == up.base.Scheme && u.Host == up.base.Host {
		req.Header.Set("Authorization", auth)
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: following the upstream's redirect to %s: %v", errDown, hostOf(u), err)
	}
	return res, nil
}

// write streams r (size bytes, or unknown when negative) to a new object
// under blobs/, hashing as it goes, and returns the blob once its digest
// is d: a blob that fits one part is one Put, a larger one a multipart
// upload, aborted on a mismatch. Nothing is recorded: the object is
// invisible until commit.
func (c *Cache) write(ctx context.Context, r io.Reader, d digest.Digest, size int64) (store.Blob, error) {
	if !d.Algorithm().Available() {
		return store.Blob{}, fmt.Errorf("%w: %s is not a digest algorithm Berth computes", errDigest, d.Algorithm())
	}
	id := make([]byte, 16)
	_, _ = rand.Read(id)
	b := store.Blob{Digest: d, Key: "blobs/fill-" + hex.EncodeToString(id)}
	h := d.Algorithm().Hash()
	buf := make([]byte, c.cfg.PartSize)
	var (
		upload string
		parts  []store.Part
	)
	abort := func(err error) (store.Blob, error) {
		if upload != "" {
			_ = c.st.Blobs.AbortMultipart(context.WithoutCancel(ctx), b.Key, upload)
		}
		return store.Blob{}, err
	}
	for {
		n, rerr := io.ReadFull(r, buf)
		if rerr != nil && !errors.Is(rerr, io.EOF) && !errors.Is(rerr, io.ErrUnexpectedEOF) {
			return abort(fmt.Errorf("%w: reading the blob: %v", errDown, rerr))
		}
		h.Write(buf[:n])
		b.Size += int64(n)
		last := rerr != nil
		switch {
		case last && upload == "":
			if got := digest.NewDigest(d.Algorithm(), h); got != d {
				return store.Blob{}, fmt.Errorf("%w: the upstream served %s for %s", errDigest, got, d)
			}
			if err := c.st.Blobs.Put(ctx, b.Key, buf[:n]); err != nil {
				return store.Blob{}, err
			}
		case n > 0:
			if upload == "" {
				var err error
				if upload, err = c.st.Blobs.CreateMultipart(ctx, b.Key); err != nil {
					return store.Blob{}, err
				}
			}
			etag, err := c.st.Blobs.UploadPart(ctx, b.Key, upload, len(parts)+1, buf[:n])
			if err != nil {
				return abort(err)
			}
			parts = append(parts, store.Part{Number: len(parts) + 1, ETag: etag, Size: int64(n)})
		}
		if !last {
			continue
		}
		if upload != "" {
			if got := digest.NewDigest(d.Algorithm(), h); got != d {
				return abort(fmt.Errorf("%w: the upstream served %s for %s", errDigest, got, d))
			}
			if err := c.st.Blobs.CompleteMultipart(ctx, b.Key, upload, parts); err != nil {
				return abort(err)
			}
		}
		if size >= 0 && b.Size != size {
			_ = c.st.Blobs.Delete(ctx, b.Key)
			return store.Blob{}, fmt.Errorf("%w: the upstream sent %d bytes of %d", errDown, b.Size, size)
		}
		b.Created = c.cfg.Now().UTC()
		return b, nil
	}
}

// commit records a verified blob, links it into repo and audits the
// fill.
func (c *Cache) commit(ctx context.Context, t target, repo string, b store.Blob, by auth.Principal) error {
	rec, err := content.Blobs{Meta: c.st.Meta, Objects: c.st.Blobs, Touch: c.st.Touch}.Record(ctx, b)
	if err != nil {
		return err
	}
	if err := c.st.Meta.EnsureRepository(ctx, repo); err != nil {
		return fmt.Errorf("create repository: %w", err)
	}
	if err := c.st.Meta.LinkBlob(ctx, repo, rec); err != nil {
		return err
	}
	c.record(ctx, by, "fill blob", repo+"@"+b.Digest.String(), fmt.Sprintf("%d bytes from %s/%s", b.Size, t.rule.Upstream, t.name))
	return nil
}
