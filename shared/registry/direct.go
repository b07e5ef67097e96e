package registry

// Direct uploads: Berth's extension for blobs larger than one gateway
// request can carry (docs/architecture.md §3; the wire protocol is in
// docs/direct-uploads.md). The session lives in the ordinary upload
// routes, so no API route is added:
//
//	POST   /v2/<name>/blobs/uploads/?direct=1        a session backed by a multipart upload
//	GET    /v2/<name>/blobs/uploads/<id>?parts=1-64  presigned part URLs (JSON)
//	PUT    <storage URL>                             the client sends each part straight to storage
//	PUT    /v2/<name>/blobs/uploads/<id>?digest=…    the part list (JSON): assemble, then verify
//	GET    /v2/<name>/blobs/uploads/<id>             state: uploading | verifying | done | failed
//
// The blob becomes visible only after one streaming read of the
// assembled object proved its digest. A request hashes at most
// Config.VerifyStep bytes (and for at most Config.VerifyBudget); a larger
// blob is answered 202 and each status poll (or repeated completion)
// hashes the next step, the hash state persisted in the session as a
// chunked upload's is. Lambda runs nothing between requests, so polling
// is what carries verification forward.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/store"
)

// DirectStore is what a blob store needs for direct uploads; the
// registry finds it by type assertion, and without it a request for a
// direct session gets an ordinary one.
type DirectStore interface {
	// PresignUploadPart returns a URL that accepts a PUT of part n of
	// the multipart upload uploadID at key for ttl, and answers the
	// part's ETag. It may be a path ("/..."), resolved against the
	// request.
	PresignUploadPart(ctx context.Context, key, uploadID string, n int, ttl time.Duration) (string, error)
	// OpenObject streams the object at key from offset on.
	OpenObject(ctx context.Context, key string, offset int64) (io.ReadCloser, error)
}

// Response headers of the extension (docs/direct-uploads.md).
const (
	// HeaderUploadMode is "direct" on a direct session's responses.
	HeaderUploadMode = "Berth-Upload-Mode"
	// HeaderUploadState is the session's state (the Direct* constants).
	HeaderUploadState = "Berth-Upload-State"
	// HeaderVerified is "<bytes verified>/<blob size>" while verifying.
	HeaderVerified = "Berth-Upload-Verified"
	// HeaderPartMin, HeaderPartMax and HeaderPartCount are the store's
	// part rules: every part but the last at least min bytes, none over
	// max, at most count parts.
	HeaderPartMin   = "Berth-Part-Min-Length"
	HeaderPartMax   = "Berth-Part-Max-Length"
	HeaderPartCount = "Berth-Part-Max-Count"
)

// States of a direct upload session.
const (
	DirectUploading = "uploading"
	DirectVerifying = "verifying"
	DirectDone      = "done"
	DirectFailed    = "failed"
	// directMarker is the state of a marker record (direct_verify.go).
	directMarker = "marker"
)

const (
	// directKey is the entry of store.Upload.Hashes holding a direct
	// session's state; it is no algorithm name, so the running digests
	// beside it are unaffected.
	directKey = "berth.direct"
	// partURLTTL is how long a part URL stays valid: a part of a slow
	// upload may wait behind others before it starts.
	partURLTTL = time.Hour
	// maxPartURLs bounds one ?parts= answer (about 1.5 KB a URL with a
	// Lambda role's session token; Lambda answers at most 6 MB).
	maxPartURLs = 500
	maxParts    = 10000
	maxPartSize = 5 << 30
)

// directState is a direct session's state, kept as JSON under directKey.
type directState struct {
	State  string `json:"state"`
	Digest string `json:"digest,omitempty"`
	// Size is the assembled object's size, once Assembled; Verified how
	// much of it was hashed (the hash state is in the session's Hashes).
	Size      int64  `json:"size,omitempty"`
	Assembled bool   `json:"assembled,omitempty"`
	Verified  int64  `json:"verified,omitempty"`
	Error     string `json:"error,omitempty"`
	// Marked says a marker record names this session (direct_verify.go).
	Marked bool `json:"marked,omitempty"`
	// Session is, in a marker record, the session being verified.
	Session string `json:"session,omitempty"`
}

// directOf returns a session's direct state, if it is a direct session.
func directOf(u store.Upload) (directState, bool) {
	var st directState
	raw, ok := u.Hashes[directKey]
	if !ok || json.Unmarshal(raw, &st) != nil {
		return st, false
	}
	return st, true
}

func setDirect(u *store.Upload, st directState) {
	if u.Hashes == nil {
		u.Hashes = map[string][]byte{}
	}
	u.Hashes[directKey], _ = json.Marshal(st)
}

// startDirect opens a direct session (POST ...?direct=1). It reports
// false when the blob store has no direct path; the caller then opens an
// ordinary session, which a client tells by the missing
// HeaderUploadMode.
func (reg *Registry) startDirect(w http.ResponseWriter, r *http.Request, name string) (bool, error) {
	if _, ok := reg.blobs.(DirectStore); !ok {
		return false, nil
	}
	ctx := r.Context()
	u := reg.newUpload(name)
	id, err := reg.blobs.CreateMultipart(ctx, u.Key)
	if err != nil {
		return true, fmt.Errorf("create multipart: %w", err)
	}
	u.MultipartID = id
	setDirect(&u, directState{State: DirectUploading})
	if err := reg.meta.CreateUpload(ctx, u); err != nil {
		_ = reg.blobs.AbortMultipart(ctx, u.Key, id)
		return true, fmt.Errorf("create upload: %w", err)
	}
	u.Version = 1
	h := w.Header()
	h.Set(HeaderPartMin, strconv.Itoa(store.MinPartSize))
	h.Set(HeaderPartMax, strconv.Itoa(maxPartSize))
	h.Set(HeaderPartCount, strconv.Itoa(maxParts))
	reg.directHeaders(w, u, directState{State: DirectUploading})
	reg.uploadStatus(w, u, http.StatusAccepted)
	return true, nil
}

// directUpload serves the requests of a direct session.
func (reg *Registry) directUpload(w http.ResponseWriter, r *http.Request, u store.Upload, st directState) error {
	if st.State == directMarker {
		return errcode.New(errcode.BlobUploadUnknown, "upload %q is not in progress in repository %q", u.ID, u.Repo)
	}
	switch r.Method {
	case http.MethodGet:
		if spec := r.URL.Query().Get("parts"); spec != "" {
			return reg.partURLs(w, r, u, st, spec)
		}
		if st.State == DirectVerifying {
			return reg.verify(w, r, u, st)
		}
		if err := reg.ensureRecorded(r.Context(), u, st); err != nil {
			return err
		}
		return reg.directStatus(w, r, u, st)
	case http.MethodPut:
		return reg.completeDirect(w, r, u, st)
	case http.MethodDelete:
		return reg.cancelDirect(w, r, u, st)
	}
	return errcode.New(errcode.Unsupported,
		"upload %s is a direct upload: PUT its parts to the URLs that GET %s?parts=1-N gives, then PUT %s?digest=<digest> with the part list (docs/direct-uploads.md)",
		u.ID, location(u), location(u))
}

func location(u store.Upload) string { return "/v2/" + u.Repo + "/blobs/uploads/" + u.ID }

// directHeaders sets the headers every direct session response carries.
func (reg *Registry) directHeaders(w http.ResponseWriter, u store.Upload, st directState) {
	h := w.Header()
	h.Set(HeaderUploadMode, "direct")
	h.Set(HeaderUploadState, st.State)
	if st.State == DirectVerifying {
		h.Set(HeaderVerified, fmt.Sprintf("%d/%d", st.Verified, st.Size))
		h.Set("Retry-After", "1")
	}
}

// directStatus answers a session's state: uploading 204 (as any upload
// status), verifying 202, done 204 naming the blob, failed the error.
func (reg *Registry) directStatus(w http.ResponseWriter, r *http.Request, u store.Upload, st directState) error {
	switch st.State {
	case DirectFailed:
		return errcode.New(errcode.DigestInvalid, "%s", st.Error).WithHeader(HeaderUploadState, DirectFailed).WithHeader(HeaderUploadMode, "direct")
	case DirectDone:
		reg.directHeaders(w, u, st)
		h := w.Header()
		h.Set("Location", "/v2/"+u.Repo+"/blobs/"+st.Digest)
		h.Set("Docker-Content-Digest", st.Digest)
		if r.Method == http.MethodPut {
			w.WriteHeader(http.StatusCreated)
		} else {
			w.WriteHeader(http.StatusNoContent)
		}
		return nil
	case DirectVerifying:
		reg.directHeaders(w, u, st)
		reg.uploadStatus(w, u, http.StatusAccepted)
		return nil
	}
	reg.directHeaders(w, u, st)
	reg.uploadStatus(w, u, http.StatusNoContent)
	return nil
}

// partJSON is one part URL of a ?parts= answer.
type partJSON struct {
	Number int    `json:"number"`
	URL    string `json:"url"`
}

// partURLs answers GET ...?parts=<from>-<to> with presigned part URLs.
func (reg *Registry) partURLs(w http.ResponseWriter, r *http.Request, u store.Upload, st directState, spec string) error {
	if st.State != DirectUploading {
		return errcode.New(errcode.BlobUploadInvalid, "upload %s is %s: it takes no more parts", u.ID, st.State)
	}
	a, b, isRange := strings.Cut(spec, "-")
	if !isRange {
		b = a
	}
	from, err1 := strconv.Atoi(a)
	to, err2 := strconv.Atoi(b)
	if err1 != nil || err2 != nil || from < 1 || to < from || to > maxParts || to-from >= maxPartURLs {
		return errcode.New(errcode.BlobUploadInvalid, "?parts=%q: want <from>-<to> with 1 <= from <= to <= %d, at most %d parts a request", spec, maxParts, maxPartURLs)
	}
	ds := reg.blobs.(DirectStore)
	out := struct {
		Parts   []partJSON `json:"parts"`
		Expires time.Time  `json:"expires"`
	}{Expires: time.Now().UTC().Add(partURLTTL).Truncate(time.Second)} // the store signs on the wall clock, not the test clock
	for n := from; n <= to; n++ {
		raw, err := ds.PresignUploadPart(r.Context(), u.Key, u.MultipartID, n, partURLTTL)
		if err != nil {
			return fmt.Errorf("presign part %d: %w", n, err)
		}
		out.Parts = append(out.Parts, partJSON{Number: n, URL: absolute(r, raw)})
	}
	body, err := json.Marshal(out)
	if err != nil {
		return err
	}
	reg.directHeaders(w, u, st)
	writeJSON(w, r, http.StatusOK, "application/json", body)
	return nil
}

// completion is the body of a completing PUT: the parts as uploaded.
type completion struct {
	Parts []struct {
		Number int    `json:"number"`
		ETag   string `json:"etag"`
		Size   int64  `json:"size"`
	} `json:"parts"`
}

// completeDirect serves PUT ...?digest=: it claims the session for
// this completion (uploading → verifying, conditional on the version
// read), then has storage assemble the parts, then verifies as far as
// one request may. Repeating it is safe and continues a verification,
// as a status poll does.
func (reg *Registry) completeDirect(w http.ResponseWriter, r *http.Request, u store.Upload, st directState) error {
	ctx := r.Context()
	want, err := oci.ParseDigest(r.URL.Query().Get("digest"))
	if err != nil {
		return errcode.New(errcode.DigestInvalid, "completing a direct upload needs ?digest=<algorithm>:<hex>: %v", err)
	}
	if st.State != DirectUploading {
		if st.Digest != want.String() {
			return errcode.New(errcode.DigestInvalid, "upload %s was completed with digest %s, not %s", u.ID, st.Digest, want)
		}
		if st.State == DirectVerifying {
			return reg.verify(w, r, u, st)
		}
		if err := reg.ensureRecorded(ctx, u, st); err != nil {
			return err
		}
		return reg.directStatus(w, r, u, st)
	}
	parts, err := readParts(r)
	if err != nil {
		return err
	}
	st = directState{State: DirectVerifying, Digest: want.String()}
	delete(u.Hashes, want.Algorithm().String())
	setDirect(&u, st)
	if err := reg.save(ctx, &u, ""); err != nil {
		return err
	}
	err = reg.blobs.CompleteMultipart(ctx, u.Key, u.MultipartID, parts)
	switch {
	case errors.Is(err, store.ErrConflict):
		// Back to uploading, so the part can be sent again.
		setDirect(&u, directState{State: DirectUploading})
		if err := reg.save(ctx, &u, ""); err != nil {
			return err
		}
		return errcode.New(errcode.BlobUploadInvalid, "a part of upload %s is missing or its ETag is not what storage holds; upload it again and repeat the PUT", u.ID)
	case errors.Is(err, store.ErrNotFound):
		// Cancelled meanwhile (the cancel aborted the parts), or expired.
		_ = reg.meta.DeleteUpload(ctx, u.ID, u.Version)
		return errcode.New(errcode.BlobUploadUnknown, "upload %s has no parts in storage any more (it was cancelled or it expired)", u.ID)
	case err != nil:
		return fmt.Errorf("complete multipart: %w", err)
	}
	size, err := reg.blobs.Stat(ctx, u.Key)
	if errors.Is(err, store.ErrNotFound) {
		return reg.verifyLost(w, r, u, u.Version, err) // a cancel deleted it
	} else if err != nil {
		return fmt.Errorf("stat assembled object: %w", err)
	}
	u.MultipartID, u.Offset, st.Size, st.Assembled = "", size, size, true
	return reg.verify(w, r, u, st)
}

// readParts reads and checks a completion's part list against S3's
// rules, so a client hears what is wrong before storage is asked.
func readParts(r *http.Request) ([]store.Part, error) {
	var c completion
	dec := json.NewDecoder(io.LimitReader(r.Body, 2<<20))
	if err := dec.Decode(&c); err != nil {
		return nil, errcode.New(errcode.BlobUploadInvalid, `completing a direct upload needs the part list as JSON, {"parts":[{"number":1,"etag":"...","size":N},...]}: %v`, err)
	}
	if len(c.Parts) == 0 || len(c.Parts) > maxParts {
		return nil, errcode.New(errcode.BlobUploadInvalid, "a direct upload has 1 to %d parts, not %d", maxParts, len(c.Parts))
	}
	parts := make([]store.Part, len(c.Parts))
	prev := 0
	for i, p := range c.Parts {
		switch {
		case p.Number <= prev || p.Number > maxParts:
			return nil, errcode.New(errcode.BlobUploadInvalid, "part numbers must ascend within 1..%d; %d follows %d", maxParts, p.Number, prev)
		case p.ETag == "":
			return nil, errcode.New(errcode.BlobUploadInvalid, "part %d has no etag (the ETag header its PUT answered)", p.Number)
		case !validETag(p.ETag):
			return nil, errcode.New(errcode.BlobUploadInvalid, "part %d: an etag is at most %d printable ASCII characters, as its PUT answered it", p.Number, maxETag)
		case p.Size < 0 || p.Size > maxPartSize:
			return nil, errcode.New(errcode.SizeInvalid, "part %d has size %d, outside 0..%d", p.Number, p.Size, maxPartSize)
		case i < len(c.Parts)-1 && p.Size < store.MinPartSize:
			return nil, errcode.New(errcode.SizeInvalid, "part %d has %d bytes; every part but the last needs at least %d", p.Number, p.Size, store.MinPartSize)
		}
		prev = p.Number
		parts[i] = store.Part{Number: p.Number, ETag: p.ETag, Size: p.Size}
	}
	return parts, nil
}

// maxETag bounds a part's ETag: S3's are a quoted MD5 (34 characters).
const maxETag = 128

// validETag reports whether an ETag could be one a part PUT answered,
// before it goes into storage's completion request.
func validETag(s string) bool {
	if len(s) > maxETag {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// cancelDirect serves DELETE on a direct session. It claims the session
// (a delete conditional on the version read, read again while polls or
// a completion move it on) while it is uploading, verifying or failed,
// then removes its parts, its assembled object and its marker: a cancel
// that answers 204 leaves nothing, and a verification that had not
// finished loses (its save finds the session gone). A session whose
// blob was verified first is complete: the cancel loses with 404.
func (reg *Registry) cancelDirect(w http.ResponseWriter, r *http.Request, u store.Upload, st directState) error {
	ctx := r.Context()
	u, err := reg.claimCancel(ctx, u, func(u store.Upload) error {
		if st, _ := directOf(u); st.State == DirectDone {
			return errcode.New(errcode.BlobUploadUnknown, "upload %s is complete (blob %s is in repository %q): there is nothing to cancel", u.ID, st.Digest, u.Repo)
		}
		return nil
	})
	if err != nil {
		return err
	}
	st, _ = directOf(u)
	reg.release(ctx, u)
	if st.State != DirectUploading {
		if err := reg.blobs.Delete(ctx, u.Key); err != nil {
			reg.log.WarnContext(ctx, "deleting a cancelled direct upload's object failed", "upload", u.ID, "error", err.Error())
		}
	}
	reg.removeMarker(ctx, u, st)
	w.WriteHeader(http.StatusNoContent)
	return nil
}
