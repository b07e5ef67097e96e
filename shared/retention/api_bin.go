package retention

import (
	"net/http"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/store"
)

// The recycle bin, pins and an image's retention details.

// GET /api/retention/bin?repository=
func (a *API) bin(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	repo := r.URL.Query().Get("repository")
	if _, err := a.repo(r, c, repo); err != nil {
		return err
	}
	n, err := limit(r, 100, 1000)
	if err != nil {
		return err
	}
	after := r.URL.Query().Get("after")
	if after != "" {
		if _, err := oci.ParseDigest(after); err != nil {
			return errcode.New(errcode.DigestInvalid, "after: %v", err)
		}
	}
	bs, err := a.svc.Binned(r.Context(), repo, digest.Digest(after), n)
	if err != nil {
		return err
	}
	type entry struct {
		Digest    digest.Digest `json:"digest"`
		MediaType string        `json:"mediaType"`
		Tags      []string      `json:"tags"`
		RunID     string        `json:"runId"`
		Deleted   time.Time     `json:"deleted,omitzero"`
		Expires   time.Time     `json:"expires,omitzero"`
		Reason    string        `json:"reason"`
	}
	out := []entry{}
	for _, b := range bs {
		e := entry{Digest: b.Manifest.Digest, MediaType: b.Manifest.MediaType, Tags: []string{}, RunID: b.RunID, Deleted: b.Deleted, Expires: b.Expires, Reason: b.Reason}
		for _, t := range b.Tags {
			e.Tags = append(e.Tags, t.Name)
		}
		out = append(out, e)
	}
	return reply(w, http.StatusOK, map[string]any{"images": out})
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
	t, err := a.repo(r, c, b.Repository)
	if err != nil {
		return err
	}
	d, err := oci.ParseDigest(b.Digest)
	if err != nil {
		return errcode.New(errcode.DigestInvalid, "%v", err)
	}
	n, err := a.svc.Restore(r.Context(), b.Repository, d)
	if err != nil {
		return missing(err, "%s@%s is not in the recycle bin (never deleted, restored already, or expired)", b.Repository, d)
	}
	a.record(r.Context(), c, t, "restore image", b.Repository+"@"+d.String(), itoa(n)+" images")
	return reply(w, http.StatusOK, map[string]any{"restored": n})
}

// GET /api/retention/pins?repository=
func (a *API) pins(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	repo := r.URL.Query().Get("repository")
	if _, err := a.repo(r, c, repo); err != nil {
		return err
	}
	ps, err := a.svc.st.Ret.ListPins(r.Context(), repo)
	if err != nil {
		return err
	}
	if ps == nil {
		ps = []store.Pin{}
	}
	return reply(w, http.StatusOK, map[string]any{"pins": ps})
}

// PUT /api/retention/pins/<repo>@<digest> {"expires", "note"}
func (a *API) pin(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	repo, d, err := imageRef(r)
	if err != nil {
		return err
	}
	t, err := a.repo(r, c, repo)
	if err != nil {
		return err
	}
	var b struct {
		Expires string `json:"expires"`
		Note    string `json:"note"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	p := store.Pin{Repo: repo, Digest: d, Note: b.Note, By: c.String(), Created: a.svc.Now()}
	if b.Expires != "" {
		if p.Expires, err = time.Parse(time.RFC3339, b.Expires); err != nil {
			return invalid("expires must be an RFC 3339 time, not %q", b.Expires)
		}
	}
	if err := a.svc.st.Ret.PutPin(r.Context(), p); err != nil {
		return err
	}
	a.record(r.Context(), c, t, "pin image", repo+"@"+d.String(), b.Expires)
	return reply(w, http.StatusOK, p)
}

// DELETE /api/retention/pins/<repo>@<digest>
func (a *API) unpin(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	repo, d, err := imageRef(r)
	if err != nil {
		return err
	}
	t, err := a.repo(r, c, repo)
	if err != nil {
		return err
	}
	if err := missing(a.svc.st.Ret.DeletePin(r.Context(), repo, d), "%s@%s is not pinned", repo, d); err != nil {
		return err
	}
	a.record(r.Context(), c, t, "unpin image", repo+"@"+d.String(), "")
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// GET /api/retention/images/<repo>@<digest>: pulls, marks, notice, pin
// and bin state (the retention part of image details).
func (a *API) image(w http.ResponseWriter, r *http.Request, c authz.Actor) error {
	repo, d, err := imageRef(r)
	if err != nil {
		return err
	}
	if _, err := a.repo(r, c, repo); err != nil {
		return err
	}
	details, err := a.svc.ImageDetails(r.Context(), repo, d)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, details)
}
