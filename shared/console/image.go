package console

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/admin"
	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/retention"
)

// imageView is the Image page's data.
type imageView struct {
	admin.ImageDetails
	// Path is the image's full path by digest, host included.
	Path string
	// PullCommands are the pull commands: by each tag, then by digest.
	PullCommands []string
	// Referrers groups the referrers by artifact type.
	Referrers []referrerGroup
	// Labels are the config's labels and the manifest's annotations,
	// sorted by key.
	Labels, Annotations []keyValue
	// Raw is the manifest, indented.
	Raw       string
	MayManage bool
	// Retention is what retention knows of the image (nil: the user
	// does not administer the tenancy, which retention needs).
	Retention *retention.ImageDetails
}

type referrerGroup struct {
	Type   string
	Images []admin.ImageView
}

type keyValue struct{ Key, Value string }

// splitImage reads "<repository>@<digest>".
func splitImage(s string) (string, digest.Digest, error) {
	i := strings.LastIndex(s, "@")
	if i < 0 {
		return "", "", errcode.New(errcode.NotFound, "name an image as /console/images/<repository>@<digest>")
	}
	d, err := digest.Parse(s[i+1:])
	if err != nil {
		return "", "", errcode.New(errcode.DigestInvalid, "%q is not a digest", clip(s[i+1:]))
	}
	return s[:i], d, nil
}

// GET /console/images/<repository>@<digest>: everything about one image.
func (c *Console) image(w http.ResponseWriter, r *http.Request, p *Page) error {
	ctx := r.Context()
	repo, d, err := splitImage(r.PathValue("image"))
	if err != nil {
		return err
	}
	img, err := c.cfg.Images.Image(ctx, p.Who, repo, d)
	if err != nil {
		return err
	}
	verb, err := c.cfg.Repos.RepoAccess(ctx, p.Who, repo)
	if err != nil {
		return err
	}
	v := imageView{ImageDetails: img, Path: p.Host + "/" + repo + "@" + d.String(), MayManage: verb >= auth.Manage}
	for _, t := range img.Tags {
		v.PullCommands = append(v.PullCommands, "docker pull "+p.Host+"/"+repo+":"+t)
	}
	v.PullCommands = append(v.PullCommands, "docker pull "+v.Path)
	byType := map[string][]admin.ImageView{}
	for _, x := range img.Referrers {
		t := x.ArtifactType
		if t == "" {
			t = x.MediaType
		}
		byType[t] = append(byType[t], x)
	}
	for t, xs := range byType {
		v.Referrers = append(v.Referrers, referrerGroup{Type: t, Images: xs})
	}
	slices.SortFunc(v.Referrers, func(a, b referrerGroup) int { return strings.Compare(a.Type, b.Type) })
	if img.Config != nil {
		v.Labels = sortedPairs(img.Config.Labels)
	}
	v.Annotations = sortedPairs(img.Annotations)
	if c.cfg.Retention != nil {
		rd, err := c.cfg.Retention.Image(ctx, p.Who, repo, d)
		if e := userError(err); e != nil && e.Code == errcode.Denied {
			// Retention is its tenancy administrators': the page shows
			// what the user may see.
		} else if err != nil {
			return err
		} else {
			v.Retention = &rd
		}
	}
	var buf bytes.Buffer
	if len(img.Manifest) > 0 && json.Indent(&buf, img.Manifest, "", "  ") == nil {
		v.Raw = buf.String()
	} else {
		v.Raw = string(img.Manifest)
	}
	p.Title, p.Nav, p.Data = repo+"@"+short(d), "repositories", v
	return c.render(w, http.StatusOK, "image", p)
}

// POST /console/images/<repository>@<digest> action=delete.
func (c *Console) changeImage(w http.ResponseWriter, r *http.Request, p *Page) error {
	repo, d, err := splitImage(r.PathValue("image"))
	if err != nil {
		return err
	}
	if err := parseForm(w, r); err != nil {
		return err
	}
	back := p.Link("/images/" + escapePath(repo) + "@" + d.String())
	switch r.PostForm.Get("action") {
	case "delete":
		if err := c.deleteImages(r, p, repo, []digest.Digest{d}); err != nil {
			return err
		}
		http.Redirect(w, r, p.Link("/repositories/"+escapePath(repo), "notice", "deleted"), http.StatusSeeOther)
		return nil
	case "pin", "unpin":
		if c.cfg.Retention == nil {
			return errcode.New(errcode.Unsupported, "this console does not manage retention")
		}
		var err error
		if r.PostForm.Get("action") == "pin" {
			_, err = c.cfg.Retention.Pin(r.Context(), p.Who, repo, d, time.Time{}, strings.TrimSpace(r.PostForm.Get("note")))
		} else {
			err = c.cfg.Retention.Unpin(r.Context(), p.Who, repo, d)
		}
		if err != nil {
			return err
		}
		http.Redirect(w, r, back, http.StatusSeeOther)
		return nil
	}
	return errcode.New(errcode.Invalid, "unknown action %q", clip(r.PostForm.Get("action")))
}

func sortedPairs(m map[string]string) []keyValue {
	out := make([]keyValue, 0, len(m))
	for k, v := range m {
		out = append(out, keyValue{k, v})
	}
	slices.SortFunc(out, func(a, b keyValue) int { return strings.Compare(a.Key, b.Key) })
	return out
}

// short is a digest's first 12 hex digits.
func short(d digest.Digest) string {
	if h := d.Encoded(); len(h) > 12 {
		return h[:12]
	}
	return d.String()
}
