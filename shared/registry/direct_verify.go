package registry

// Verification of direct uploads (see direct.go): one streaming read of
// the assembled object, in steps that each fit a gateway request, and
// the marker that lets a manifest push name an unverified blob.

import (
	"context"
	"crypto/sha256"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/store"
)

// Defaults for Config.VerifyStep and Config.VerifyBudget when unset.
// sha256 runs at 0.7-2 GB/s (SHA extensions on x86 and Graviton); what
// bounds a step on Lambda is reading S3 (roughly 90 MB/s for one
// stream), so 1 GiB takes about 12 s, well inside API Gateway's 30 s,
// and the budget stops a slower read early. docs/direct-uploads.md has
// the measurements.
const (
	defaultVerifyStep   = 1 << 30
	defaultVerifyBudget = 20 * time.Second
	// verifyMargin is kept back from the request's own deadline for
	// saving the session and answering.
	verifyMargin = 3 * time.Second
)

// verify advances a verifying session by one step and answers its
// state: 201 (PUT) or 204 (GET) once done, 202 while verifying, the
// digest error when the bytes were not what the digest says. Each step
// is saved on the condition of the version read, and the blob is
// recorded only after the session says done: of a verification and a
// cancel, whichever writes first wins, and a cancel that won leaves no
// record (docs/storage.md, "Direct upload").
func (reg *Registry) verify(w http.ResponseWriter, r *http.Request, u store.Upload, st directState) error {
	ctx, read := r.Context(), u.Version
	if !st.Assembled && st.Size == 0 {
		// The completing request claimed the session and is having
		// storage assemble the parts, or stopped before it could say so.
		size, err := reg.blobs.Stat(ctx, u.Key)
		if errors.Is(err, store.ErrNotFound) {
			return reg.directStatus(w, r, u, st)
		} else if err != nil {
			return fmt.Errorf("stat assembled object: %w", err)
		}
		u.MultipartID, u.Offset, st.Size, st.Assembled = "", size, size, true
	}
	if err := reg.verifyStep(ctx, &u, &st); errors.Is(err, store.ErrNotFound) {
		return reg.verifyLost(w, r, u, read, err) // a cancel deleted the object?
	} else if err != nil {
		return err
	}
	if st.State == DirectVerifying {
		reg.ensureMarker(ctx, u, &st)
	}
	setDirect(&u, st)
	if err := reg.save(ctx, &u, ""); err != nil {
		return reg.verifyLost(w, r, u, read, err)
	}
	switch st.State {
	case DirectDone:
		b := store.Blob{Digest: digest.Digest(st.Digest), Size: st.Size, Key: u.Key, Created: reg.now().UTC()}
		if err := reg.recordBlob(ctx, u.Repo, b); err != nil {
			return err
		}
	case DirectFailed:
		_ = reg.blobs.Delete(ctx, u.Key)
	}
	if st.State != DirectVerifying {
		reg.removeMarker(ctx, u, st)
	}
	return reg.directStatus(w, r, u, st)
}

// verifyLost answers a verification step of session u (read at version
// read) that failed with err. When a cancel won, the step deletes the
// object it was assembling or reading (storage may have finished
// assembling it after the cancel deleted it) and answers 404; when
// another poll moved the session on, what that poll saved; else err.
func (reg *Registry) verifyLost(w http.ResponseWriter, r *http.Request, u store.Upload, read int64, err error) error {
	ctx := r.Context()
	cur, gerr := reg.meta.GetUpload(ctx, u.ID)
	if errors.Is(gerr, store.ErrNotFound) {
		_ = reg.blobs.Delete(ctx, u.Key)
		return errcode.New(errcode.BlobUploadUnknown, "upload %s was cancelled while it was verified", u.ID)
	}
	cst, ok := directOf(cur)
	if gerr != nil || !ok || cur.Version == read {
		return err
	}
	return reg.directStatus(w, r, cur, cst)
}

// ensureRecorded records the blob of a done session when the request
// that verified it stopped before recording it (the session says done
// first, so that a cancel never races a record). It costs a read; a
// session whose object is gone is answered as unknown.
func (reg *Registry) ensureRecorded(ctx context.Context, u store.Upload, st directState) error {
	if st.State != DirectDone {
		return nil
	}
	d := digest.Digest(st.Digest)
	if _, err := reg.meta.GetLink(ctx, u.Repo, d); !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if _, err := reg.blobs.Stat(ctx, u.Key); errors.Is(err, store.ErrNotFound) {
		return errcode.New(errcode.BlobUploadUnknown, "upload %s was verified, but its blob is gone (collected or deleted); upload it again", u.ID)
	} else if err != nil {
		return err
	}
	return reg.recordBlob(ctx, u.Repo, store.Blob{Digest: d, Size: st.Size, Key: u.Key, Created: reg.now().UTC()})
}

// verifyStep hashes the next stretch of the assembled object into the
// session's running digest, and on reaching the end decides done or
// failed.
func (reg *Registry) verifyStep(ctx context.Context, u *store.Upload, st *directState) error {
	d, err := digest.Parse(st.Digest)
	if err != nil {
		return fmt.Errorf("session %s holds digest %q: %w", u.ID, st.Digest, err)
	}
	alg := d.Algorithm()
	h, err := restore(u.Hashes, alg)
	if err != nil {
		return err
	}
	step, budget := reg.cfg.VerifyStep, reg.cfg.VerifyBudget
	if step <= 0 {
		step = defaultVerifyStep
	}
	if budget <= 0 {
		budget = defaultVerifyBudget
	}
	deadline := time.Now().Add(budget)
	if dl, ok := ctx.Deadline(); ok && dl.Add(-verifyMargin).Before(deadline) {
		deadline = dl.Add(-verifyMargin)
	}
	want := min(step, st.Size-st.Verified)
	if want > 0 {
		n, err := reg.hashFrom(ctx, u.Key, st.Verified, want, h, deadline)
		st.Verified += n
		if err != nil {
			return err
		}
	}
	state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		return fmt.Errorf("save %s state: %w", alg, err)
	}
	u.Hashes[alg.String()] = state
	if st.Verified < st.Size {
		return nil
	}
	if got := digest.NewDigest(alg, h); got != d {
		st.State = DirectFailed
		st.Error = fmt.Sprintf("uploaded content has digest %s, not %s; the upload was discarded", got, d)
	} else {
		st.State = DirectDone
	}
	return nil
}

// hashFrom feeds up to n bytes of key from offset into h, stopping
// early at deadline, and returns how many it fed.
func (reg *Registry) hashFrom(ctx context.Context, key string, offset, n int64, h io.Writer, deadline time.Time) (int64, error) {
	rc, err := reg.blobs.(DirectStore).OpenObject(ctx, key, offset)
	if err != nil {
		return 0, fmt.Errorf("open assembled object: %w", err)
	}
	defer rc.Close()
	buf := make([]byte, 1<<20)
	var done int64
	for done < n && time.Now().Before(deadline) {
		k, err := io.ReadFull(rc, buf[:min(int64(len(buf)), n-done)])
		h.Write(buf[:k])
		done += int64(k)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return done, fmt.Errorf("assembled object %s ended at %d bytes, before its size", key, offset+done)
		} else if err != nil {
			return done, fmt.Errorf("read assembled object: %w", err)
		}
	}
	return done, nil
}

// markerID is the id of the marker record that says a blob of repo is
// being verified: a record in the upload table under a name derived
// from repository and digest, so a manifest push finds it by what it
// knows. directUpload refuses it as a session.
func markerID(repo, d string) string {
	sum := sha256.Sum256([]byte(repo + "@" + d))
	return "verify-" + hex.EncodeToString(sum[:20])
}

// ensureMarker writes the marker of a session whose verification goes
// on past this request (best effort: it only improves an error message).
func (reg *Registry) ensureMarker(ctx context.Context, u store.Upload, st *directState) {
	if st.Marked {
		return
	}
	m := store.Upload{ID: markerID(u.Repo, st.Digest), Repo: u.Repo, Created: reg.now().UTC(), Expires: reg.now().UTC().Add(reg.cfg.UploadTTL)}
	setDirect(&m, directState{State: directMarker, Digest: st.Digest, Session: u.ID})
	err := reg.meta.CreateUpload(ctx, m)
	if errors.Is(err, store.ErrExists) {
		// An older session's: the latest verification is the one to name
		// (markers are created, never updated: version 1).
		_ = reg.meta.DeleteUpload(ctx, m.ID, 1)
		err = reg.meta.CreateUpload(ctx, m)
	}
	st.Marked = err == nil
}

// removeMarker deletes the session's marker, if it still names it.
func (reg *Registry) removeMarker(ctx context.Context, u store.Upload, st directState) {
	if !st.Marked {
		return
	}
	id := markerID(u.Repo, st.Digest)
	m, err := reg.meta.GetUpload(ctx, id)
	if err != nil {
		return
	}
	if ms, ok := directOf(m); ok && ms.Session == u.ID {
		_ = reg.meta.DeleteUpload(ctx, id, m.Version)
	}
}

// unverified returns the error for a manifest that references blob d of
// repo while a direct upload of it is still being verified, or nil.
func (reg *Registry) unverified(ctx context.Context, repo string, d digest.Digest) error {
	m, err := reg.meta.GetUpload(ctx, markerID(repo, d.String()))
	if err != nil || m.Repo != repo {
		return nil
	}
	ms, ok := directOf(m)
	if !ok || ms.State != directMarker {
		return nil
	}
	u, err := reg.meta.GetUpload(ctx, ms.Session)
	if err != nil {
		return nil
	}
	st, ok := directOf(u)
	if !ok || st.State != DirectVerifying || st.Digest != d.String() {
		return nil
	}
	e := errcode.New(errcode.ManifestBlobUnknown,
		"blob %s is still being verified (direct upload %s: %d of %d bytes checked); poll GET %s until %s is %s, then push the manifest again",
		d, u.ID, st.Verified, st.Size, location(u), HeaderUploadState, DirectDone)
	e.Detail = map[string]string{"digest": d.String(), "upload": u.ID, "state": DirectVerifying}
	return e
}
