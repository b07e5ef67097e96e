package retention

import (
	"context"
	"net/http"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/store"
)

// The recycle bin, pins and an image's retention details.

// BinEntry is an image in the recycle bin, as the API shows it.
type BinEntry struct {
	Repository string        `json:"-"`
	Digest     digest.Digest `json:"digest"`
	MediaType  string        `json:"mediaType"`
	Tags       []string      `json:"tags"`
	RunID      string        `json:"runId"`
	Deleted    time.Time     `json:"deleted,omitzero"`
	Expires    time.Time     `json:"expires,omitzero"`
	Reason     string        `json:"reason"`
}

// GET /api/retention/bin?repository=
func (a *API) bin(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	repo := r.URL.Query().Get("repository")
	if _, err := a.repo(r.Context(), c, repo); err != nil {
		return err
	}
	n, err := limit(r, 100, 1000)
	if err != nil {
		return err
	}
	out, err := a.Bin(r.Context(), c, repo, r.URL.Query().Get("after"), n)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, map[string]any{"images": out})
}

// Bin lists up to n (1..1000) images of repository repo in the recycle
// bin, in digest order after the digest given ("" for the start).
func (a *API) Bin(ctx context.Context, c authz.Actor, repo, after string, n int) ([]BinEntry, error) {
	if _, err := a.repo(ctx, c, repo); err != nil {
		return nil, err
	}
	if after != "" {
		if _, err := oci.ParseDigest(after); err != nil {
			return nil, errcode.New(errcode.DigestInvalid, "after: %v", err)
		}
	}
	if n < 1 || n > 1000 {
		return nil, invalid("limit must be a number from 1 to 1000, not %d", n)
	}
	bs, err := a.svc.Binned(ctx, repo, digest.Digest(after), n)
	if err != nil {
		return nil, err
	}
	out := []BinEntry{}
	for _, b := range bs {
		e := BinEntry{Repository: repo, Digest: b.Manifest.Digest, MediaType: b.Manifest.MediaType, Tags: []string{}, RunID: b.RunID, Deleted: b.Deleted, Expires: b.Expires, Reason: b.Reason}
		for _, t := range b.Tags {
			e.Tags = append(e.Tags, t.Name)
		}
		out = append(out, e)
	}
	return out, nil
}

// POST /api/retention/bin/restore {"repository", "digest"}
func (a *API) binRestore(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	var b struct {
		Repository string `json:"repository"`
		Digest     string `json:"digest"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	n, err := a.Restore(r.Context(), c, b.Repository, b.Digest)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, map[string]any{"restored": n})
}

// Restore puts repo@d back from the recycle bin (with what it kept:
// children, referrers) and returns how many images came back.
func (a *API) Restore(ctx context.Context, c authz.Actor, repo, d string) (int, error) {
	t, err := a.repo(ctx, c, repo)
	if err != nil {
		return 0, err
	}
	dg, err := oci.ParseDigest(d)
	if err != nil {
		return 0, errcode.New(errcode.DigestInvalid, "%v", err)
	}
	n, err := a.svc.Restore(ctx, repo, dg)
	if err != nil {
		return 0, missing(err, "%s@%s is not in the recycle bin (never deleted, restored already, or expired)", repo, dg)
	}
	a.record(ctx, c, t, "restore image", repo+"@"+dg.String(), itoa(n)+" images")
	return n, nil
}

// GET /api/retention/pins?repository=
func (a *API) pins(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	ps, err := a.Pins(r.Context(), c, r.URL.Query().Get("repository"))
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, map[string]any{"pins": ps})
}

// Pins lists the pins of repository repo.
func (a *API) Pins(ctx context.Context, c authz.Actor, repo string) ([]store.Pin, error) {
	if _, err := a.repo(ctx, c, repo); err != nil {
		return nil, err
	}
	ps, err := a.svc.st.Ret.ListPins(ctx, repo)
	if err != nil {
		return nil, err
	}
	if ps == nil {
		ps = []store.Pin{}
	}
	return ps, nil
}

// PUT /api/retention/pins/<repo>@<digest> {"expires", "note"}
func (a *API) pin(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	repo, d, err := imageRef(r)
	if err != nil {
		return err
	}
	if _, err := a.repo(r.Context(), c, repo); err != nil {
		return err
	}
	var b struct {
		Expires string `json:"expires"`
		Note    string `json:"note"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	var expires time.Time
	if b.Expires != "" {
		if expires, err = time.Parse(time.RFC3339, b.Expires); err != nil {
			return invalid("expires must be an RFC 3339 time, not %q", b.Expires)
		}
	}
	p, err := a.Pin(r.Context(), c, repo, d, expires, b.Note)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, p)
}

// Pin keeps repo@d from retention until expires (zero: until unpinned).
func (a *API) Pin(ctx context.Context, c authz.Actor, repo string, d digest.Digest, expires time.Time, note string) (store.Pin, error) {
	t, err := a.repo(ctx, c, repo)
	if err != nil {
		return store.Pin{}, err
	}
	p := store.Pin{Repo: repo, Digest: d, Note: note, By: c.String(), Created: a.svc.Now(), Expires: expires}
	if err := a.svc.st.Ret.PutPin(ctx, p); err != nil {
		return p, err
	}
	detail := ""
	if !expires.IsZero() {
		detail = expires.UTC().Format(time.RFC3339)
	}
	a.record(ctx, c, t, "pin image", repo+"@"+d.String(), detail)
	return p, nil
}

// DELETE /api/retention/pins/<repo>@<digest>
func (a *API) unpin(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	repo, d, err := imageRef(r)
	if err != nil {
		return err
	}
	if err := a.Unpin(r.Context(), c, repo, d); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// Unpin removes repo@d's pin.
func (a *API) Unpin(ctx context.Context, c authz.Actor, repo string, d digest.Digest) error {
	t, err := a.repo(ctx, c, repo)
	if err != nil {
		return err
	}
	if err := missing(a.svc.st.Ret.DeletePin(ctx, repo, d), "%s@%s is not pinned", repo, d); err != nil {
		return err
	}
	a.record(ctx, c, t, "unpin image", repo+"@"+d.String(), "")
	return nil
}

// GET /api/retention/images/<repo>@<digest>: pulls, marks, notice, pin
// and bin state (the retention part of image details).
func (a *API) image(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	repo, d, err := imageRef(r)
	if err != nil {
		return err
	}
	details, err := a.Image(r.Context(), c, repo, d)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, details)
}

// Image is what retention knows of repo@d — pulls, marks, the notice of
// a coming deletion, its pin, whether it is in the bin — for c, who
// administers its tenancy (the console's image page shows it).
func (a *API) Image(ctx context.Context, c authz.Actor, repo string, d digest.Digest) (ImageDetails, error) {
	if _, err := a.repo(ctx, c, repo); err != nil {
		return ImageDetails{}, err
	}
	return a.svc.ImageDetails(ctx, repo, d)
}
