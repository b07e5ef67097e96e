package registry

import (
	"context"
	"crypto/rand"
	"encoding"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
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
		if err := reg.discard(r.Context(), u); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
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
	// Refuse a push into a repository the pusher may not create before
	// any bytes flow.
	if _, err := reg.repository(ctx, name); err != nil {
		return err
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
	return true, reg.meta.LinkBlob(ctx, name, b)
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
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return nil, errcode.New(errcode.BlobUploadInvalid, "reading request body: %v", err)
	}
	return b, nil
}

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
	if err := reg.meta.UpdateUpload(ctx, *u); errors.Is(err, store.ErrConflict) {
		return errcode.New(errcode.BlobUploadInvalid, "upload %s was changed by a concurrent request; resume from its current offset", u.ID).WithStatus(http.StatusConflict)
	} else if err != nil {
		return err
	}
	if te, ok := reg.blobs.(tailExpirer); ok && te.ExpiresUploadTails() {
		return nil
	}
	if oldTail != "" && oldTail != u.TailKey {
		_ = reg.blobs.Delete(ctx, oldTail)
	}
	return nil
}

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

// commit writes the final bytes, checks the digest computed while bytes
// streamed in, and makes the blob visible in the repository. persisted
// says whether u exists in metadata (false for a single-POST upload).
func (reg *Registry) commit(w http.ResponseWriter, r *http.Request, u *store.Upload, body []byte, dg string, persisted bool) error {
	ctx := r.Context()
	want, err := oci.ParseDigest(dg)
	if err != nil {
		return errcode.New(errcode.DigestInvalid, "commit needs ?digest=<algorithm>:<hex>: %v", err)
	}
	oldTail, err := reg.appendData(ctx, u, body, true, false)
	if err != nil {
		return err
	}
	// The object is whole: drop a tail the multipart absorbed, and keep
	// discard from aborting the completed upload (S3: NoSuchUpload).
	if oldTail != "" && oldTail != u.TailKey {
		_ = reg.blobs.Delete(ctx, oldTail)
	}
	u.MultipartID = ""
	got, err := sum(u.Hashes, want.Algorithm())
	if err != nil {
		return err
	}
	if got != want {
		_ = reg.blobs.Delete(ctx, u.Key)
		if persisted {
			_ = reg.discard(ctx, *u)
		}
		return errcode.New(errcode.DigestInvalid, "uploaded content has digest %s, not %s; the upload was discarded", got, want)
	}
	b := store.Blob{Digest: want, Size: u.Offset, Key: u.Key, Created: reg.now().UTC()}
	if err := reg.recordBlob(ctx, u.Repo, b); err != nil {
		return err
	}
	if persisted {
		if err := reg.meta.DeleteUpload(ctx, u.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if u.TailKey != "" {
			_ = reg.blobs.Delete(ctx, u.TailKey)
		}
	}
	return blobCreated(w, u.Repo, want)
}

func blobCreated(w http.ResponseWriter, name string, d digest.Digest) error {
	h := w.Header()
	h.Set("Location", "/v2/"+name+"/blobs/"+d.String())
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusCreated)
	return nil
}

// discard cancels a session: its parts, tail and record.
func (reg *Registry) discard(ctx context.Context, u store.Upload) error {
	if u.MultipartID != "" {
		if err := reg.blobs.AbortMultipart(ctx, u.Key, u.MultipartID); err != nil {
			return err
		}
	}
	if u.TailKey != "" {
		if err := reg.blobs.Delete(ctx, u.TailKey); err != nil {
			return err
		}
	}
	if err := reg.meta.DeleteUpload(ctx, u.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// appendData hashes data into the session and writes it: bytes that with
// the buffered tail reach store.MinPartSize become a multipart part, the
// rest become the new tail. With final set, everything is written and the
// object completed. It returns the tail key the write replaced.
//
// A chunk costs at most two object-store requests: reading the tail and
// writing a part or a new tail. With prepare set (more chunks will
// follow), a request that read no tail and starts a tail also begins the
// multipart upload, so the later chunk that turns the tail into a part
// need not. Without it (docker's single streamed PATCH) no multipart is
// begun for a blob that fits the tail, and commit writes it with one Put.
func (reg *Registry) appendData(ctx context.Context, u *store.Upload, data []byte, final, prepare bool) (string, error) {
	if err := hashInto(u, data); err != nil {
		return "", err
	}
	buf := data
	readTail := u.TailSize > 0
	if readTail {
		tail, err := reg.blobs.Get(ctx, u.TailKey)
		if err != nil {
			return "", fmt.Errorf("read upload tail: %w", err)
		}
		buf = append(tail, data...)
	}
	old := u.TailKey
	u.Offset += int64(len(data))
	switch {
	case final && u.MultipartID == "":
		if err := reg.blobs.Put(ctx, u.Key, buf); err != nil {
			return "", fmt.Errorf("write blob: %w", err)
		}
	case final || len(buf) >= store.MinPartSize:
		if len(buf) > 0 {
			if err := reg.writePart(ctx, u, buf); err != nil {
				return "", err
			}
		}
		u.TailKey, u.TailSize = "", 0
		if final {
			if err := reg.blobs.CompleteMultipart(ctx, u.Key, u.MultipartID, u.Parts); err != nil {
				if errors.Is(err, store.ErrConflict) {
					return "", errcode.New(errcode.BlobUploadInvalid, "upload %s's parts changed under it (a concurrent request?); start the upload again", u.ID)
				}
				return "", fmt.Errorf("complete multipart: %w", err)
			}
		}
	case len(buf) > 0:
		// Each tail has a key of its own: of two requests racing from
		// one version, the loser's tail must not overwrite the winner's
		// (the session's digest state would no longer match its bytes).
		u.TailKey = fmt.Sprintf("uploads/%s/tail-%d-%s", u.ID, u.Version+1, newID()[:8])
		u.TailSize = int64(len(buf))
		if err := reg.blobs.Put(ctx, u.TailKey, buf); err != nil {
			return "", fmt.Errorf("write upload tail: %w", err)
		}
		if prepare && !readTail && u.MultipartID == "" {
			id, err := reg.blobs.CreateMultipart(ctx, u.Key)
			if err != nil {
				return "", fmt.Errorf("create multipart: %w", err)
			}
			u.MultipartID = id
		}
	}
	return old, nil
}

func (reg *Registry) writePart(ctx context.Context, u *store.Upload, data []byte) error {
	if u.MultipartID == "" {
		id, err := reg.blobs.CreateMultipart(ctx, u.Key)
		if err != nil {
			return fmt.Errorf("create multipart: %w", err)
		}
		u.MultipartID = id
	}
	n := len(u.Parts) + 1
	etag, err := reg.blobs.UploadPart(ctx, u.Key, u.MultipartID, n, data)
	if err != nil {
		return fmt.Errorf("upload part %d: %w", n, err)
	}
	u.Parts = append(u.Parts, store.Part{Number: n, ETag: etag, Size: int64(len(data))})
	return nil
}

// hashInto restores the session's running digests, feeds them data and
// stores their states again.
func hashInto(u *store.Upload, data []byte) error {
	if u.Hashes == nil {
		u.Hashes = map[string][]byte{}
	}
	for _, alg := range oci.Hashes {
		h, err := restore(u.Hashes, alg)
		if err != nil {
			return err
		}
		h.Write(data)
		state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
		if err != nil {
			return fmt.Errorf("save %s state: %w", alg, err)
		}
		u.Hashes[alg.String()] = state
	}
	return nil
}

func restore(states map[string][]byte, alg digest.Algorithm) (hash.Hash, error) {
	h := oci.HashFor(alg).New()
	if st, ok := states[alg.String()]; ok {
		if err := h.(encoding.BinaryUnmarshaler).UnmarshalBinary(st); err != nil {
			return nil, fmt.Errorf("restore %s state: %w", alg, err)
		}
	}
	return h, nil
}

func sum(states map[string][]byte, alg digest.Algorithm) (digest.Digest, error) {
	h, err := restore(states, alg)
	if err != nil {
		return "", err
	}
	return digest.NewDigest(alg, h), nil
}
