package registry

import (
	"context"
	"errors"
	"net/http"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/store"
)

// An upload session's life (docs/storage.md, "State machines"): open at
// version v, a chunk moves it to v+1 (UpdateUpload on ver = v); a commit
// or a cancel claims it by deleting it on ver = v (DeleteUpload). Of
// requests continuing one version exactly one write succeeds, and only
// the request that claimed a session writes its object or discards its
// parts, so a session commits at most once and a cancel that answers 204
// leaves nothing.

func (reg *Registry) commitUpload(w http.ResponseWriter, r *http.Request, u store.Upload) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if err := checkRange(r, u, len(body)); err != nil && len(body) > 0 {
		return err
	}
	return reg.commit(w, r, &u, body, r.URL.Query().Get("digest"), true)
}

// commit completes an upload with its last bytes: it checks the digest
// computed while bytes streamed in, claims the session (when persisted:
// false for a single-POST upload, whose session no one else knows),
// writes the object, and makes the blob visible in the repository.
// Nothing is written before the digest checks and the claim succeed.
func (reg *Registry) commit(w http.ResponseWriter, r *http.Request, u *store.Upload, body []byte, dg string, persisted bool) error {
	ctx := r.Context()
	want, err := oci.ParseDigest(dg)
	if err != nil {
		return errcode.New(errcode.DigestInvalid, "commit needs ?digest=<algorithm>:<hex>: %v", err)
	}
	claimed := *u
	if err := hashInto(u, body); err != nil {
		return err
	}
	got, err := reg.pendingSum(ctx, u, want.Algorithm(), body)
	if err != nil {
		return err
	}
	if got != want {
		if persisted && reg.meta.DeleteUpload(ctx, claimed.ID, claimed.Version) == nil {
			reg.release(ctx, claimed)
		}
		return errcode.New(errcode.DigestInvalid, "uploaded content has digest %s, not %s; the upload was discarded", got, want)
	}
	if err := reg.admit(ctx, u.Repo, u.Offset+int64(len(body))); err != nil {
		if persisted && reg.meta.DeleteUpload(ctx, claimed.ID, claimed.Version) == nil {
			reg.release(ctx, claimed)
		}
		return err // past the tenancy's quota: nothing is written
	}
	if persisted {
		if err := reg.meta.DeleteUpload(ctx, claimed.ID, claimed.Version); err != nil {
			if reg.linked(ctx, u.Repo, want, err) {
				return blobCreated(w, u.Repo, want)
			}
			return lostSession(u.ID, err)
		}
	}
	tail := u.TailKey
	absorbed, err := reg.appendData(ctx, u, body, true, false)
	if err != nil {
		failed := *u
		failed.TailKey = tail
		reg.release(ctx, failed)
		return err
	}
	if absorbed != "" {
		_ = reg.blobs.Delete(ctx, absorbed) // its bytes are in the object now
	}
	b := store.Blob{Digest: want, Size: u.Offset, Key: u.Key, Created: reg.now().UTC()}
	if err := reg.recordBlob(ctx, u.Repo, b); err != nil {
		return err
	}
	return blobCreated(w, u.Repo, want)
}

// linked reports, for a commit whose claim failed with err, whether
// the blob is in the repository already (a retried PUT whose first try
// committed, or a concurrent commit of the same bytes): then the commit
// answers 201, as the client asked.
func (reg *Registry) linked(ctx context.Context, repo string, d digest.Digest, err error) bool {
	if !errors.Is(err, store.ErrNotFound) && !errors.Is(err, store.ErrConflict) {
		return false
	}
	_, lerr := reg.meta.GetLink(ctx, repo, d)
	return lerr == nil
}

// lostSession is the spec's error for a request that lost a session to
// a concurrent one.
func lostSession(id string, err error) error {
	if errors.Is(err, store.ErrConflict) {
		return errcode.New(errcode.BlobUploadInvalid, "upload %s was changed by a concurrent request; resume from its current offset", id).WithStatus(http.StatusConflict)
	}
	if errors.Is(err, store.ErrNotFound) {
		return errcode.New(errcode.BlobUploadUnknown, "upload %s is no longer in progress: another request committed or cancelled it", id)
	}
	return err
}

func blobCreated(w http.ResponseWriter, name string, d digest.Digest) error {
	h := w.Header()
	h.Set("Location", "/v2/"+name+"/blobs/"+d.String())
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// cancelUpload serves DELETE on an ordinary session (spec: "Canceling
// an upload"): it claims the session, whatever chunks moved it on since
// this request read it, then discards what it wrote. A session that a
// commit claimed first is no longer in progress: 404.
func (reg *Registry) cancelUpload(w http.ResponseWriter, r *http.Request, u store.Upload) error {
	u, err := reg.claimCancel(r.Context(), u, nil)
	if err != nil {
		return err
	}
	reg.release(r.Context(), u)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// claimCancel claims a session for a cancel: a delete on the version
// read, read again and retried while other requests move it on (a
// cancel wins over chunks and verification steps), unless refuse, given
// the session as read, says the cancel lost. It returns the session as
// claimed.
func (reg *Registry) claimCancel(ctx context.Context, u store.Upload, refuse func(store.Upload) error) (store.Upload, error) {
	for range 5 {
		if refuse != nil {
			if err := refuse(u); err != nil {
				return u, err
			}
		}
		err := reg.meta.DeleteUpload(ctx, u.ID, u.Version)
		if err == nil {
			return u, nil
		}
		if !errors.Is(err, store.ErrConflict) {
			return u, lostSession(u.ID, err)
		}
		id := u.ID
		if u, err = reg.meta.GetUpload(ctx, id); err != nil {
			return u, lostSession(id, err)
		}
	}
	return u, errcode.New(errcode.BlobUploadInvalid, "upload %s kept changing under concurrent requests; cancel it again", u.ID).WithStatus(http.StatusConflict)
}

// release discards what a claimed session left in storage: its
// multipart parts and its tail. Failures are logged, not answered: the
// claim decided the outcome, and the bucket's lifecycle rules (or
// backend.SweepUploads) remove what is left.
func (reg *Registry) release(ctx context.Context, u store.Upload) {
	if u.MultipartID != "" {
		if err := reg.blobs.AbortMultipart(ctx, u.Key, u.MultipartID); err != nil {
			reg.log.WarnContext(ctx, "aborting a discarded upload's parts failed", "upload", u.ID, "error", err.Error())
		}
	}
	if u.TailKey != "" {
		if err := reg.blobs.Delete(ctx, u.TailKey); err != nil {
			reg.log.WarnContext(ctx, "deleting a discarded upload's tail failed", "upload", u.ID, "error", err.Error())
		}
	}
}
