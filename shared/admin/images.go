package admin

import (
	"context"
	"net/http"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/store"
)

// maxDetail bounds the tags and manifests one repository's details list
// (a response must fit Lambda's 6 MB); Truncated says more exist.
const maxDetail = 1000

// TagView is a tag and the manifest it points at.
type TagView struct {
	Name      string        `json:"name"`
	Digest    digest.Digest `json:"digest"`
	MediaType string        `json:"mediaType,omitempty"`
	Size      int64         `json:"size,omitempty"`
	Updated   time.Time     `json:"updated,omitzero"`
}

// ImageView is a manifest's summary: its sizes, who pushed it, its
// activity (first and last pushed, last pulled, pulls: store.Activity)
// and its tags.
type ImageView struct {
	Digest       digest.Digest `json:"digest"`
	MediaType    string        `json:"mediaType"`
	ArtifactType string        `json:"artifactType,omitempty"`
	// Size is the manifest's own bytes.
	Size int64 `json:"size"`
	// ImageSize is what a pull downloads besides the manifest: config
	// plus layers, and for an index the sum of its children's.
	ImageSize int64 `json:"imageSize"`
	// PushedBy is the principal of the last push, when known.
	PushedBy string `json:"pushedBy,omitempty"`
	store.Activity
	Subject digest.Digest `json:"subject,omitempty"`
	Tags    []string      `json:"tags"`
	// Notice, when set, is the deletion a retention run scheduled for
	// the image: when, by which policy, why (docs/retention.md).
	Notice *store.Notice `json:"notice,omitempty"`
}

func viewImage(m store.Manifest, size int64, st store.ImageStats, tags []string) ImageView {
	if tags == nil {
		tags = []string{}
	}
	return ImageView{Digest: m.Digest, MediaType: m.MediaType, ArtifactType: m.ArtifactType, Size: m.Size, ImageSize: size,
		PushedBy: m.PushedBy, Activity: store.ActivityOf(m, st), Subject: m.Subject, Tags: tags, Notice: st.Notice}
}

// stats returns the pull statistics of repo's images after digest
// after (exclusive, "" for the start) up to last (both list in digest
// order; none where the store keeps no statistics).
func (a *API) stats(ctx context.Context, repo string, after, last digest.Digest) (map[digest.Digest]store.ImageStats, error) {
	out := map[digest.Digest]store.ImageStats{}
	if a.cfg.Stats == nil || last == "" {
		return out, nil
	}
	for {
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

// RepoDetails is a repository's settings and content.
type RepoDetails struct {
	RepoView
	Tags      []TagView   `json:"tags"`
	Manifests []ImageView `json:"manifests"`
	Truncated bool        `json:"truncated,omitempty"`
}

// MaxDetail bounds the tags and manifests one repository's details list
// (a response must fit Lambda's 6 MB); RepoDetails.Truncated says more
// exist, which Images pages through.
const MaxDetail = maxDetail

// Repository returns a repository's settings, its first MaxDetail tags
// and images, for who with read on it (GET /api/repositories/<name>).
func (a *API) Repository(ctx context.Context, who authz.Actor, name string) (RepoDetails, error) {
	rec, err := a.repository(ctx, who, name, auth.Read)
	if err != nil {
		return RepoDetails{}, err
	}
	out := RepoDetails{RepoView: viewRepo(rec), Tags: []TagView{}, Manifests: []ImageView{}}
	tags, err := a.meta.ListTags(ctx, rec.Name, "", maxDetail+1)
	if err != nil {
		return out, err
	}
	if len(tags) > maxDetail {
		tags, out.Truncated = tags[:maxDetail], true
	}
	byDigest := map[digest.Digest][]string{}
	for _, t := range tags {
		out.Tags = append(out.Tags, TagView{Name: t.Name, Digest: t.Digest, MediaType: t.MediaType, Size: t.Size, Updated: t.Updated})
		byDigest[t.Digest] = append(byDigest[t.Digest], t.Name)
	}
	page, err := a.images(ctx, rec.Name, "", maxDetail, byDigest)
	if err != nil {
		return out, err
	}
	out.Manifests = page.Images
	out.Truncated = out.Truncated || page.Next != ""
	return out, nil
}

// GET /api/repositories/<name> (read)
func (a *API) getRepository(w http.ResponseWriter, r *http.Request, c *call) error {
	out, err := a.Repository(r.Context(), c.who, c.repo)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, out)
}

// ImagePage is one page of a repository's images in digest order; Next,
// when set, is the After of the following page.
type ImagePage struct {
	Repository string        `json:"repository"`
	Images     []ImageView   `json:"images"`
	Next       digest.Digest `json:"next,omitempty"`
}

// Images lists a page of up to limit (1..1000) images of repository
// repo after the digest given, each with its sizes, pusher, tags, last
// pull and pulls, for who with read on it (GET /api/images).
func (a *API) Images(ctx context.Context, who authz.Actor, repo string, after digest.Digest, limit int) (ImagePage, error) {
	if limit < 1 || limit > 1000 {
		return ImagePage{}, invalid("n must be a number from 1 to 1000, not %d", limit)
	}
	if after != "" {
		if err := after.Validate(); err != nil {
			return ImagePage{}, invalid("last must be an image digest (the \"next\" of the previous page), not %q", clipped(after.String()))
		}
	}
	rec, err := a.repository(ctx, who, repo, auth.Read)
	if err != nil {
		return ImagePage{}, err
	}
	byDigest := map[digest.Digest][]string{}
	for last := ""; ; {
		tags, err := a.meta.ListTags(ctx, rec.Name, last, 1000)
		if err != nil {
			return ImagePage{}, err
		}
		for _, t := range tags {
			byDigest[t.Digest] = append(byDigest[t.Digest], t.Name)
		}
		if len(tags) < 1000 {
			break
		}
		last = tags[len(tags)-1].Name
	}
	return a.images(ctx, rec.Name, after, limit, byDigest)
}

// images lists up to limit images of repo after the digest given, with
// their tags from byDigest.
func (a *API) images(ctx context.Context, repo string, after digest.Digest, limit int, byDigest map[digest.Digest][]string) (ImagePage, error) {
	out := ImagePage{Repository: repo, Images: []ImageView{}}
	ms, err := a.meta.ListManifests(ctx, repo, after, limit+1)
	if err != nil {
		return out, err
	}
	if len(ms) > limit {
		ms = ms[:limit]
		out.Next = ms[limit-1].Digest
	}
	if len(ms) == 0 {
		return out, nil
	}
	stats, err := a.stats(ctx, repo, after, ms[len(ms)-1].Digest)
	if err != nil {
		return out, err
	}
	sz := a.newSizer(repo, ms)
	for _, m := range ms {
		size, err := sz.size(ctx, m, 0)
		if err != nil {
			return out, err
		}
		out.Images = append(out.Images, viewImage(m, size, stats[m.Digest], byDigest[m.Digest]))
	}
	return out, nil
}

// GET /api/images?repository=&n=&last= (read)
func (a *API) listImages(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	repo := q.Get("repository")
	if repo == "" {
		return invalid("name the repository: GET /api/images?repository=<tenancy>/<name>")
	}
	n, err := intParam(r, "n", 100, 1000)
	if err != nil {
		return err
	}
	page, err := a.Images(r.Context(), c.who, repo, digest.Digest(q.Get("last")), n)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, page)
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
