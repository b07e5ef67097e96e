package registry

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/route"
	"github.com/berth-registry/berth/shared/store"
)

// uploads serves POST /v2/<name>/blobs/uploads/ and
// GET|PATCH|PUT|DELETE /v2/<name>/blobs/uploads/<id> (spec: "Pushing
// blobs": monolithic, chunked, cross-repository mount, upload status,
// cancel).
func (reg *Registry) uploads(w http.ResponseWriter, r *http.Request, m route.Match) error {
	name := m.Name()
	if err := oci.ValidName(name); err != nil {
		return errcode.New(errcode.NameInvalid, "%v", err)
	}
	if r.Method == http.MethodPost {
		return reg.startUpload(w, r, name)
	}
	id := m.Param("id")
	if !validUploadID(id) {
		// newID made every session there is: nothing else is looked up.
		return errcode.New(errcode.BlobUploadUnknown, "upload %q is not in progress in repository %q", clip(id), name)
	}
	u, err := reg.meta.GetUpload(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.Repo != name) {
		return errcode.New(errcode.BlobUploadUnknown, "upload %q is not in progress in repository %q (it may have expired or been committed)", m.Param("id"), name)
	}
	if err != nil {
		return err
	}
	if st, ok := directOf(u); ok {
		return reg.directUpload(w, r, u, st) // direct.go
	}
	switch r.Method {
	case http.MethodGet:
		reg.uploadStatus(w, u, http.StatusNoContent)
		return nil
	case http.MethodPatch:
		return reg.patchUpload(w, r, u)
	case http.MethodPut:
		return reg.commitUpload(w, r, u)
	case http.MethodDelete:
		return reg.cancelUpload(w, r, u)
	}
	return errcode.New(errcode.Unsupported, "method %s not allowed on uploads", r.Method)
}

// newID makes an upload id: 32 lower-case hex digits.
func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// validUploadID reports whether id is one newID could have made.
func validUploadID(id string) bool {
	if len(id) != 32 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// clip shortens a client's value quoted back in a message.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

func (reg *Registry) startUpload(w http.ResponseWriter, r *http.Request, name string) error {
	ctx := r.Context()
	q := r.URL.Query()
	// Refuse a push into a repository the pusher may not create (or
	// a pull-through cache's) before any bytes flow.
	if err := reg.guard(ctx, name); err != nil {
		return err
	}
	if _, err := reg.repository(ctx, name); err != nil {
		return err
	}
	if err := reg.admit(ctx, name, 0); err != nil {
		return err // a tenancy at its quota takes no bytes
	}
	if mount := q.Get("mount"); mount != "" {
		if ok, err := reg.mount(ctx, name, mount, q.Get("from")); err != nil {
			return err
		} else if ok {
			return blobCreated(w, name, digest.Digest(mount))
		}
		// Not mountable: the spec says to fall back to a new session.
	}
	if dg := q.Get("digest"); dg != "" {
		// Monolithic upload in a single POST.
		u := reg.newUpload(name)
		body, err := readBody(r)
		if err != nil {
			return err
		}
		return reg.commit(w, r, &u, body, dg, false)
	}
	if q.Get("direct") != "" {
		if ok, err := reg.startDirect(w, r, name); ok || err != nil {
			return err // direct.go
		}
	}
	u := reg.newUpload(name)
	if err := reg.meta.CreateUpload(ctx, u); err != nil {
		return fmt.Errorf("create upload: %w", err)
	}
	u.Version = 1
	reg.uploadStatus(w, u, http.StatusAccepted)
	return nil
}

// mount links a blob from another repository (spec: "Mounting a blob
// from another repository"). It reports false when the blob is not
// mountable, which is not an error.
func (reg *Registry) mount(ctx context.Context, name, mount, from string) (bool, error) {
	d, err := oci.ParseDigest(mount)
	if err != nil {
		return false, errcode.New(errcode.DigestInvalid, "%v", err)
	}
	if from == "" || oci.ValidName(from) != nil {
		// Without a source only a blob already in this repository counts.
		from = name
	} else if d, enforced := authz.DecisionFrom(ctx); enforced && !d.MountFrom && from != name {
		// The pusher may not pull the source: a fresh upload instead,
		// so knowing a digest never copies another repository's data.
		return false, nil
	}
	b, err := reg.link(ctx, from, d)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	if err := reg.meta.LinkBlob(ctx, name, b); err != nil {
		return false, err
	}
	return true, reg.settle(ctx, name, b)
}

// settle checks, after linking l into repo, that l's object is still
// its digest's record's: a heal that replaced the record after the link
// l was copied from was read may have walked past repo before this link
// was written, so the link is moved onto the record's object here. One
// read; a write only then. (Either this read follows the heal's record
// write, or the heal's walk follows this link's write: one of the two
// repoints it.)
func (reg *Registry) settle(ctx context.Context, repo string, l store.Blob) error {
	cur, err := reg.meta.GetBlob(ctx, l.Digest)
	if errors.Is(err, store.ErrNotFound) || (err == nil && cur.Key == l.Key) {
		return nil
	} else if err != nil {
		return err
	}
	err = reg.meta.RepointLink(ctx, repo, cur, l.Key)
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
		return nil // moved or removed since: not this link's to mend
	}
	return err
}

func (reg *Registry) newUpload(name string) store.Upload {
	id := newID()
	now := reg.now().UTC()
	return store.Upload{
		ID: id, Repo: name, Key: "blobs/" + id,
		Created: now, Expires: now.Add(reg.cfg.UploadTTL),
	}
}

// uploadStatus writes the headers every upload response carries.
func (reg *Registry) uploadStatus(w http.ResponseWriter, u store.Upload, status int) {
	h := w.Header()
	h.Set("Location", "/v2/"+u.Repo+"/blobs/uploads/"+u.ID)
	h.Set("Docker-Upload-UUID", u.ID)
	end := u.Offset - 1
	if end < 0 {
		end = 0
	}
	h.Set("Range", fmt.Sprintf("0-%d", end))
	if reg.cfg.ChunkMin > 0 {
		h.Set("OCI-Chunk-Min-Length", strconv.FormatInt(reg.cfg.ChunkMin, 10))
	}
	if reg.cfg.ChunkMax > 0 {
		h.Set("OCI-Chunk-Max-Length", strconv.FormatInt(reg.cfg.ChunkMax, 10))
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(status)
}

func readBody(r *http.Request) ([]byte, error) {
	// A body the Lambda adapter holds in memory already (the event's,
	// decoded whole: lambdahttp.MemoryBody) is used where it lies.
	if mb, ok := r.Body.(interface{ Bytes() []byte }); ok {
		return mb.Bytes(), nil
	}
	// A body of announced length is read into one buffer of that size
	// (io.ReadAll would grow and copy it a dozen times for a layer);
	// the announcement is trusted only up to what one request can carry.
	var buf bytes.Buffer
	if n := r.ContentLength; n > 0 && n <= maxBodyHint {
		buf.Grow(int(n) + bytes.MinRead) // room for ReadFrom's probe for EOF: no regrowth
	}
	if _, err := buf.ReadFrom(r.Body); err != nil {
		return nil, errcode.New(errcode.BlobUploadInvalid, "reading request body: %v", err)
	}
	return buf.Bytes(), nil
}

// maxBodyHint bounds the Content-Length readBody allocates for up front:
// API Gateway's 10 MB request limit.
const maxBodyHint = 10 << 20

// parseContentRange reads a chunk's Content-Range, "<start>-<end>" (with
// "bytes " before and "/<size>" after, as some clients send it): ok only
// for 0 <= start <= end.
func parseContentRange(s string) (start, end int64, ok bool) {
	s = strings.TrimPrefix(strings.TrimSpace(s), "bytes ")
	s, _, _ = strings.Cut(s, "/")
	a, b, found := strings.Cut(s, "-")
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if !found || err1 != nil || err2 != nil || start < 0 || end < start {
		return 0, 0, false
	}
	return start, end, true
}

// checkRange validates a chunk's Content-Range against the session's
// offset (spec: a chunk out of order gets 416).
func checkRange(r *http.Request, u store.Upload, n int) error {
	cr := r.Header.Get("Content-Range")
	if cr == "" {
		return nil
	}
	start, end, ok := parseContentRange(cr)
	if !ok || start != u.Offset || end-start+1 != int64(n) {
		end := u.Offset - 1
		if end < 0 {
			end = 0
		}
		return errcode.New(errcode.RangeInvalid, "Content-Range %q does not continue the upload at offset %d with a %d-byte chunk", r.Header.Get("Content-Range"), u.Offset, n).
			WithHeader("Location", "/v2/"+u.Repo+"/blobs/uploads/"+u.ID).
			WithHeader("Range", fmt.Sprintf("0-%d", end))
	}
	return nil
}

func (reg *Registry) patchUpload(w http.ResponseWriter, r *http.Request, u store.Upload) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if err := checkRange(r, u, len(body)); err != nil {
		return err
	}
	if err := hashInto(&u, body); err != nil {
		return err
	}
	// A client that sends Content-Range is uploading in chunks: more
	// will follow (see appendData's prepare).
	old, err := reg.appendData(r.Context(), &u, body, false, r.Header.Get("Content-Range") != "")
	if err != nil {
		return err
	}
	if err := reg.save(r.Context(), &u, old); err != nil {
		return err
	}
	reg.uploadStatus(w, u, http.StatusAccepted)
	return nil
}

// tailExpirer is a blob store whose storage expires upload tails by
// itself (S3: the bucket's lifecycle rule on uploads/). On it a chunk
// does not spend a request deleting the tail it superseded: the budget
// of a chunk is one read of the tail and one write. Commit and cancel
// still delete the current tail; superseded ones wait for the rule (or
// backend.SweepUploads).
type tailExpirer interface{ ExpiresUploadTails() bool }

// save persists a session after a chunk, conditional on its version, then
// drops the tail object the chunk replaced (unless the store expires
// tails itself).
func (reg *Registry) save(ctx context.Context, u *store.Upload, oldTail string) error {
	u.Version++
	u.Expires = reg.now().UTC().Add(reg.cfg.UploadTTL)
	if err := reg.meta.UpdateUpload(ctx, *u); err != nil {
		if errors.Is(err, store.ErrConflict) {
			// Moved on, or claimed by a commit or cancel (DynamoDB's
			// condition fails on a missing item too): say which.
			if _, gerr := reg.meta.GetUpload(ctx, u.ID); errors.Is(gerr, store.ErrNotFound) {
				err = gerr
			}
		}
		return lostSession(u.ID, err)
	}
	if te, ok := reg.blobs.(tailExpirer); ok && te.ExpiresUploadTails() {
		return nil
	}
	if oldTail != "" && oldTail != u.TailKey {
		_ = reg.blobs.Delete(ctx, oldTail)
	}
	return nil
}
