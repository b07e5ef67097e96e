package registry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/route"
	"github.com/berth-registry/berth/shared/store"
)

// maxPage bounds one page of tags or repositories, so a response always
// fits Lambda's 6 MB payload; clients follow the Link header for more.
const maxPage = 10000

// pageParams reads the spec's n and last query parameters.
func pageParams(r *http.Request) (n int, last string, err error) {
	q := r.URL.Query()
	n = maxPage
	if s := q.Get("n"); s != "" {
		v, perr := strconv.Atoi(s)
		if perr != nil || v < 0 {
			return 0, "", errcode.New(errcode.Unsupported, "n must be a non-negative integer, got %q", s).WithStatus(http.StatusBadRequest)
		}
		n = min(v, maxPage)
	}
	return n, q.Get("last"), nil
}

// nextLink sets the Link header (RFC 5988) for the page after last.
func nextLink(w http.ResponseWriter, path string, n int, last string) {
	q := url.Values{"n": {strconv.Itoa(n)}, "last": {last}}
	w.Header().Set("Link", fmt.Sprintf(`<%s?%s>; rel="next"`, path, q.Encode()))
}

// tags serves GET /v2/<name>/tags/list (spec: "Listing Tags").
func (reg *Registry) tags(w http.ResponseWriter, r *http.Request, m route.Match) error {
	name := m.Name()
	if err := oci.ValidName(name); err != nil {
		return errcode.New(errcode.NameInvalid, "%v", err)
	}
	n, last, err := pageParams(r)
	if err != nil {
		return err
	}
	if last != "" && !oci.ValidTag(last) {
		// last is a tag of the previous page; anything else would only
		// reach the store as a sort key.
		return errcode.New(errcode.TagInvalid, "last must be a tag (the last one of the previous page), not %q", clip(last))
	}
	ctx := r.Context()
	if _, err := reg.meta.GetRepository(ctx, name); errors.Is(err, store.ErrNotFound) {
		return errcode.New(errcode.NameUnknown, "repository %q is not known to the registry", name)
	} else if err != nil {
		return err
	}
	out := struct {
		Name string   `json:"name"`
		Tags []string `json:"tags"`
	}{Name: name, Tags: []string{}}
	if n > 0 {
		// One extra tells whether another page follows.
		names, err := reg.tagNames(ctx, name, last, n+1)
		if err != nil {
			return err
		}
		if len(names) > n {
			names = names[:n]
			nextLink(w, "/v2/"+name+"/tags/list", n, names[n-1])
		}
		out.Tags = append(out.Tags, names...)
	}
	body, _ := json.Marshal(out)
	writeJSON(w, r, http.StatusOK, "application/json", body)
	return nil
}

// tagNames lists tag names, from the names alone where the store can.
func (reg *Registry) tagNames(ctx context.Context, repo, after string, limit int) ([]string, error) {
	if tn, ok := reg.meta.(store.TagNames); ok {
		return tn.ListTagNames(ctx, repo, after, limit)
	}
	tags, err := reg.meta.ListTags(ctx, repo, after, limit)
	names := make([]string, len(tags))
	for i, t := range tags {
		names[i] = t.Name
	}
	return names, err
}

// catalog serves GET /v2/_catalog (the Docker registry's catalog API,
// kept by distribution-spec as an extension).
func (reg *Registry) catalog(w http.ResponseWriter, r *http.Request, _ route.Match) error {
	n, last, err := pageParams(r)
	if err != nil {
		return err
	}
	if last != "" {
		if err := oci.ValidName(last); err != nil {
			return errcode.New(errcode.NameInvalid, "last must be a repository name (the last one of the previous page): %v", err)
		}
	}
	out := struct {
		Repositories []string `json:"repositories"`
	}{Repositories: []string{}}
	if n > 0 {
		names, more, err := reg.visibleRepositories(r.Context(), last, n)
		if err != nil {
			return err
		}
		if more {
			nextLink(w, "/v2/_catalog", n, names[n-1])
		}
		out.Repositories = append(out.Repositories, names...)
	}
	body, _ := json.Marshal(out)
	writeJSON(w, r, http.StatusOK, "application/json", body)
	return nil
}

// visibleRepositories lists up to n repositories after last that the
// principal may see (its tenancy's, as its policy allows), and whether
// more follow.
func (reg *Registry) visibleRepositories(ctx context.Context, last string, n int) ([]string, bool, error) {
	var out []string
	if p, ok := principal(ctx); ok {
		// Start at the tenancy's namespace: nothing before it is visible.
		if lo := p.Tenancy + "/"; last < lo {
			last = lo
		}
	}
	for {
		names, err := reg.meta.ListRepositories(ctx, last, n+1)
		if err != nil {
			return nil, false, err
		}
		for _, name := range names {
			ok, err := reg.listable(ctx, name)
			if err != nil {
				return nil, false, err
			}
			if p, enforced := principal(ctx); enforced && !strings.HasPrefix(name, p.Tenancy+"/") {
				return out, false, nil // past the tenancy's names
			}
			if ok {
				if len(out) == n {
					return out, true, nil
				}
				out = append(out, name)
			}
		}
		if len(names) < n+1 {
			return out, false, nil
		}
		last = names[len(names)-1]
	}
}

// maxReferrersPage bounds one referrers response, counted as the bytes
// its body takes inside the function's response envelope (JSON string
// escaping included: an annotation character can grow sevenfold), so a
// page stays under Lambda's 6 MB response limit whatever the
// annotations; clients follow the Link header for more.
const maxReferrersPage = 4 << 20

// referrers serves GET /v2/<name>/referrers/<digest> (spec: "Listing
// Referrers"): always 200 with an image index, filtered by artifactType
// when asked (and then saying so in OCI-Filters-Applied), paged with the
// Link header ("?last=<digest>" continues after a referrer).
func (reg *Registry) referrers(w http.ResponseWriter, r *http.Request, m route.Match) error {
	name := m.Name()
	if err := oci.ValidName(name); err != nil {
		return errcode.New(errcode.NameInvalid, "%v", err)
	}
	d, err := oci.ParseDigest(m.Param("digest"))
	if err != nil {
		return errcode.New(errcode.DigestInvalid, "%v", err)
	}
	q := r.URL.Query()
	last := q.Get("last")
	if last != "" {
		if _, err := oci.ParseDigest(last); err != nil {
			return errcode.New(errcode.DigestInvalid, "last: %v", err)
		}
	}
	mans, err := reg.meta.Referrers(r.Context(), name, d)
	if err != nil {
		return err
	}
	sort.Slice(mans, func(i, j int) bool { return mans[i].Digest < mans[j].Digest })
	filter := q.Get("artifactType")
	// Its own type: the index must carry "manifests": [] when empty.
	index := struct {
		SchemaVersion int              `json:"schemaVersion"`
		MediaType     string           `json:"mediaType"`
		Manifests     []oci.Descriptor `json:"manifests"`
	}{SchemaVersion: 2, MediaType: oci.MediaTypeImageIndex, Manifests: []oci.Descriptor{}}
	size := 256 // the index around the descriptors, the envelope around the body
	for _, man := range mans {
		if (filter != "" && man.ArtifactType != filter) || (last != "" && man.Digest.String() <= last) {
			continue
		}
		desc := oci.Descriptor{
			MediaType: man.MediaType, Digest: man.Digest, Size: man.Size,
			ArtifactType: man.ArtifactType, Annotations: man.Annotations,
		}
		n := enveloped(desc)
		if n > maxReferrersPage {
			// Listed without its annotations rather than not at all: a
			// referrer must not hide others (or itself) by its size.
			reg.log.WarnContext(r.Context(), "a referrer's annotations do not fit a response; listed without them",
				"repository", name, "digest", man.Digest.String(), "bytes", n)
			desc.Annotations = nil
			n = enveloped(desc)
		}
		if size+n > maxReferrersPage && len(index.Manifests) > 0 {
			next := url.Values{"last": {index.Manifests[len(index.Manifests)-1].Digest.String()}}
			if filter != "" {
				next.Set("artifactType", filter)
			}
			w.Header().Set("Link", fmt.Sprintf(`</v2/%s/referrers/%s?%s>; rel="next"`, name, d, next.Encode()))
			break
		}
		index.Manifests = append(index.Manifests, desc)
		size += n + 1
	}
	if filter != "" {
		w.Header().Set("OCI-Filters-Applied", "artifactType")
	}
	body, _ := json.Marshal(index)
	writeJSON(w, r, http.StatusOK, oci.MediaTypeImageIndex, body)
	return nil
}

// enveloped is how many bytes v's JSON takes as a JSON string: what it
// adds to a function's response (the body is a string in the envelope).
func enveloped(v any) int {
	b, _ := json.Marshal(v)
	e, _ := json.Marshal(string(b))
	return len(e)
}
