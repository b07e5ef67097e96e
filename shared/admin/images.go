package admin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/store"
)

// maxDetail bounds the tags and manifests one repository's details list
// (a response must fit Lambda's 6 MB); Truncated says more exist.
const maxDetail = 1000

// tagView is a tag and the manifest it points at.
type tagView struct {
	Name      string        `json:"name"`
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType,omitempty"`
	Size      int64         `json:"size,omitempty"`
	Updated   time.Time     `json:"updated,omitzero"`
}

// manifestView is a manifest's summary, with its activity (first and
// last pushed, last pulled, pulls: store.Activity).
type manifestView struct {
	Digest       digest.Digest `json:"digest"`
	MediaType    string        `json:"mediaType"`
	ArtifactType string        `json:"artifactType,omitempty"`
	Size         int64         `json:"size"`
	store.Activity
	Subject digest.Digest `json:"subject,omitempty"`
	Tags    []string      `json:"tags"`
}

func viewManifest(m store.Manifest, st store.ImageStats, tags []string) manifestView {
	if tags == nil {
		tags = []string{}
	}
	return manifestView{Digest: m.Digest, MediaType: m.MediaType, ArtifactType: m.ArtifactType, Size: m.Size,
		Activity: store.ActivityOf(m, st), Subject: m.Subject, Tags: tags}
}

// stats returns the pull statistics of repo's images up to digest
// last (both list in digest order; none where the store keeps no
// statistics).
func (a *API) stats(ctx context.Context, repo string, last digest.Digest) (map[digest.Digest]store.ImageStats, error) {
	out := map[digest.Digest]store.ImageStats{}
	if a.cfg.Stats == nil || last == "" {
		return out, nil
	}
	for after := digest.Digest(""); ; {
		ss, err := a.cfg.Stats.ListImageStats(ctx, repo, after, 1000)
		if err != nil {
			return nil, err
		}
		for _, s := range ss {
			out[s.Digest] = s
		}
		if len(ss) < 1000 || ss[len(ss)-1].Digest >= last {
			return out, nil
		}
		after = ss[len(ss)-1].Digest
	}
}

// imageStats returns one image's pull statistics (zero where the store
// keeps none).
func (a *API) imageStats(ctx context.Context, repo string, d digest.Digest) (store.ImageStats, error) {
	if a.cfg.Stats == nil {
		return store.ImageStats{}, nil
	}
	return a.cfg.Stats.GetImageStats(ctx, repo, d)
}

// repoDetails is a repository's settings and content.
type repoDetails struct {
	repoView
	Tags      []tagView      `json:"tags"`
	Manifests []manifestView `json:"manifests"`
	Truncated bool           `json:"truncated,omitempty"`
}

// GET /api/repositories/<name> (read)
func (a *API) getRepository(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	rec, err := a.repository(ctx, c.who, c.repo, auth.Read)
	if err != nil {
		return err
	}
	out := repoDetails{repoView: viewRepo(rec), Tags: []tagView{}, Manifests: []manifestView{}}
	tags, err := a.meta.ListTags(ctx, rec.Name, "", maxDetail+1)
	if err != nil {
		return err
	}
	if len(tags) > maxDetail {
		tags, out.Truncated = tags[:maxDetail], true
	}
	byDigest := map[digest.Digest][]string{}
	for _, t := range tags {
		out.Tags = append(out.Tags, tagView{Name: t.Name, Digest: t.Digest, MediaType: t.MediaType, Size: t.Size, Updated: t.Updated})
		byDigest[t.Digest] = append(byDigest[t.Digest], t.Name)
	}
	ms, err := a.meta.ListManifests(ctx, rec.Name, "", maxDetail+1)
	if err != nil {
		return err
	}
	if len(ms) > maxDetail {
		ms, out.Truncated = ms[:maxDetail], true
	}
	var last digest.Digest
	if len(ms) > 0 {
		last = ms[len(ms)-1].Digest
	}
	stats, err := a.stats(ctx, rec.Name, last)
	if err != nil {
		return err
	}
	for _, m := range ms {
		out.Manifests = append(out.Manifests, viewManifest(m, stats[m.Digest], byDigest[m.Digest]))
	}
	return reply(w, http.StatusOK, out)
}

// imageDetails is one manifest in full.
type imageDetails struct {
	Repository string `json:"repository"`
	manifestView
	Annotations map[string]string `json:"annotations,omitempty"`
	// References are the blobs and child manifests it references.
	References []digest.Digest `json:"references"`
	// Referrers are the manifests whose subject it is (signatures,
	// SBOMs, attestations).
	Referrers []manifestView `json:"referrers"`
}

// GET /api/images/<name>@<digest> (read)
func (a *API) getImage(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	d, err := oci.ParseDigest(c.digest)
	if err != nil {
		return errcode.New(errcode.DigestInvalid, "%v", err)
	}
	if _, err := a.repository(ctx, c.who, c.repo, auth.Read); err != nil {
		return err
	}
	m, err := a.meta.GetManifest(ctx, c.repo, d)
	if errors.Is(err, store.ErrNotFound) {
		return errcode.New(errcode.ManifestUnknown, "manifest %s is not in repository %q", d, c.repo)
	} else if err != nil {
		return err
	}
	tags, err := a.tagsOf(ctx, c.repo, d)
	if err != nil {
		return err
	}
	st, err := a.imageStats(ctx, c.repo, d)
	if err != nil {
		return err
	}
	out := imageDetails{Repository: c.repo, manifestView: viewManifest(m, st, tags), Annotations: m.Annotations, References: m.Refs, Referrers: []manifestView{}}
	if out.References == nil {
		out.References = []digest.Digest{}
	}
	refs, err := a.meta.Referrers(ctx, c.repo, d)
	if err != nil {
		return err
	}
	for _, x := range refs {
		st, err := a.imageStats(ctx, c.repo, x.Digest)
		if err != nil {
			return err
		}
		out.Referrers = append(out.Referrers, viewManifest(x, st, nil))
	}
	return reply(w, http.StatusOK, out)
}

// tagsOf lists the tags of repo that point at d.
func (a *API) tagsOf(ctx context.Context, repo string, d digest.Digest) ([]string, error) {
	var out []string
	after := ""
	for {
		tags, err := a.meta.ListTags(ctx, repo, after, 1000)
		if err != nil {
			return nil, err
		}
		for _, t := range tags {
			if t.Digest == d {
				out = append(out, t.Name)
			}
		}
		if len(tags) < 1000 {
			return out, nil
		}
		after = tags[len(tags)-1].Name
	}
}

// GET /api/tenancies/{t}/audit?before=&limit= (administrators): the
// trail, newest first; "next" is the before= of the following page.
func (a *API) listAudit(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	if err := a.requireAdmin(ctx, c, "read the audit trail"); err != nil {
		return err
	}
	limit, err := intParam(r, "limit", 100, 1000)
	if err != nil {
		return err
	}
	before := r.URL.Query().Get("before")
	if before != "" && !authz.ValidAuditID(before) {
		return invalid("before must be an audit event id (the \"next\" of the previous page), not %q", clipped(before))
	}
	es, err := a.ids.ListAudit(ctx, c.tenancy, before, limit)
	if err != nil {
		return err
	}
	if es == nil {
		es = []store.AuditEvent{}
	}
	res := map[string]any{"events": es}
	if len(es) == limit {
		res["next"] = es[len(es)-1].ID
	}
	return reply(w, http.StatusOK, res)
}
