package registry

import (
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/route"
	"github.com/berth-registry/berth/shared/store"
)

// blobsHandler serves /v2/<name>/blobs/<digest> (spec: "Pulling blobs",
// "Deleting Blobs"). Bytes never pass through: GET answers 307 to a
// presigned URL, HEAD answers from metadata.
func (reg *Registry) blobsHandler(w http.ResponseWriter, r *http.Request, m route.Match) error {
	name := m.Name()
	if err := oci.ValidName(name); err != nil {
		return errcode.New(errcode.NameInvalid, "%v", err)
	}
	d, err := oci.ParseDigest(m.Param("digest"))
	if err != nil {
		return errcode.New(errcode.DigestInvalid, "%v", err)
	}
	ctx := r.Context()
	if r.Method == http.MethodDelete {
		if err := reg.meta.UnlinkBlob(ctx, name, d); errors.Is(err, store.ErrNotFound) {
			return errcode.New(errcode.BlobUnknown, "blob %s is not in repository %q", d, name)
		} else if err != nil {
			return err
		}
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusAccepted)
		return nil
	}
	getLink := reg.meta.GetLink
	if r.Method == http.MethodHead {
		getLink = reg.link // a pusher checking for the blob: mark it in use
	}
	b, err := getLink(ctx, name, d)
	if errors.Is(err, store.ErrNotFound) {
		// Manifests are content too: some clients fetch an index child
		// or a referrer through the blobs endpoint.
		if man, merr := reg.meta.GetManifest(ctx, name, d); merr == nil {
			return reg.serveManifestAsBlob(w, r, man)
		}
		if b, err = reg.fromUpstream(w, r, name, d); b.Key == "" {
			return err
		}
	} else if err != nil {
		return err
	}
	h := w.Header()
	h.Set("Docker-Content-Digest", d.String())
	h.Set("Etag", `"`+d.String()+`"`)
	if r.Method == http.MethodHead {
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Length", strconv.FormatInt(b.Size, 10))
		h.Set("Accept-Ranges", "bytes")
		w.WriteHeader(http.StatusOK)
		return nil
	}
	u, err := reg.blobs.PresignGet(ctx, b.Key, reg.cfg.PresignTTL)
	if err != nil {
		return err
	}
	h.Set("Location", absolute(r, u))
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusTemporaryRedirect)
	return nil
}

// fromUpstream serves blob d missing from repository name from a
// pull-through cache's upstream: a redirect to the upstream's own URL
// (answered here), or the blob filled within the request, returned to
// be served as any other. A blob no rule covers is BLOB_UNKNOWN.
func (reg *Registry) fromUpstream(w http.ResponseWriter, r *http.Request, name string, d digest.Digest) (store.Blob, error) {
	unknown := errcode.New(errcode.BlobUnknown, "blob %s is not in repository %q", d, name)
	if reg.up == nil {
		return store.Blob{}, unknown
	}
	head := r.Method == http.MethodHead
	src, ok, err := reg.up.Blob(r.Context(), name, d, head)
	switch {
	case !ok:
		return store.Blob{}, unknown
	case err != nil:
		return store.Blob{}, err
	case src.Stored:
		return reg.meta.GetLink(r.Context(), name, d)
	}
	h := w.Header()
	h.Set("Docker-Content-Digest", d.String())
	if src.Location != "" {
		h.Set("Location", src.Location)
		h.Set("Content-Length", "0")
		w.WriteHeader(http.StatusTemporaryRedirect)
		return store.Blob{}, nil
	}
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Length", strconv.FormatInt(src.Size, 10))
	w.WriteHeader(http.StatusOK)
	return store.Blob{}, nil
}

func (reg *Registry) serveManifestAsBlob(w http.ResponseWriter, r *http.Request, man store.Manifest) error {
	h := w.Header()
	h.Set("Docker-Content-Digest", man.Digest.String())
	if r.Method == http.MethodHead {
		h.Set("Content-Type", man.MediaType)
		h.Set("Content-Length", strconv.FormatInt(man.Size, 10))
		w.WriteHeader(http.StatusOK)
		return nil
	}
	body, err := reg.manifestBody(r.Context(), man)
	if err != nil {
		return err
	}
	writeJSON(w, r, http.StatusOK, man.MediaType, body)
	return nil
}

// absolute resolves a path-only URL (from the embedded store) against the
// request's scheme and host, so every client follows the redirect.
func absolute(r *http.Request, u string) string {
	if !strings.HasPrefix(u, "/") {
		return u
	}
	scheme := "http"
	if r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https") {
		scheme = "https"
	}
	return scheme + "://" + r.Host + u
}
