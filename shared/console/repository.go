package console

import (
	"cmp"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/admin"
	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/retention"
	"github.com/berth-registry/berth/shared/store"
)

// repoView is the Repository page's data.
type repoView struct {
	admin.RepoDetails
	// Path is the repository's full path, host included; Short its name
	// without the tenancy.
	Path, Short string
	// Images are its images, sorted as asked.
	Images  []admin.ImageView
	Columns []column
	// MayManage shows the settings, delete and multi-select controls.
	MayManage bool
	// Confirm holds a refused deletion's typed confirmation.
	ConfirmProblem string
	// Retention, for the tenancy's administrators: the policy the
	// repository is under, the overrides it could be put under, and its
	// pins by digest.
	Retention *repoRetention
}

// repoRetention is a repository's retention, as its Repository page
// shows it to the tenancy's administrators.
type repoRetention struct {
	Policy    string
	Overrides []string
	Pinned    map[digest.Digest]store.Pin
	// Exempt are the exempt-tag patterns of the policy the repository
	// is under.
	Exempt []string
}

// retentionStatus is an image's retention status: pinned, exempt (by a
// tag the policy exempts), scheduled for deletion (when, why), or kept.
type retentionStatus struct{ Kind, Text string }

// Status is img's retention status.
func (v repoView) Status(img admin.ImageView) retentionStatus {
	if v.Retention != nil {
		if pin, ok := v.Retention.Pinned[img.Digest]; ok {
			return retentionStatus{"pinned", "Pinned by " + pin.By}
		}
		if tag, pattern, ok := retention.Exempt(v.Retention.Exempt, img.Tags); ok {
			return retentionStatus{"exempt", fmt.Sprintf("Exempt: tag %s matches %s", tag, pattern)}
		}
	}
	if n := img.Notice; n != nil {
		return retentionStatus{"scheduled", "Deleted at or after " + n.At.UTC().Format("2006-01-02 15:04 UTC") + " because " + n.Reason}
	}
	return retentionStatus{"kept", "Kept"}
}

// imageColumns are the images table's sortable columns.
var imageColumns = []sortable[admin.ImageView]{
	{"digest", "Digest", false, func(a, b admin.ImageView) int { return strings.Compare(a.Digest.String(), b.Digest.String()) }},
	{"tags", "Tags", false, func(a, b admin.ImageView) int {
		return strings.Compare(strings.Join(a.Tags, ","), strings.Join(b.Tags, ","))
	}},
	{"size", "Size", true, func(a, b admin.ImageView) int { return cmp.Compare(a.ImageSize, b.ImageSize) }},
	{"pushed", "Pushed", true, func(a, b admin.ImageView) int { return a.LastPushed.Compare(b.LastPushed) }},
	{"by", "Pushed by", false, func(a, b admin.ImageView) int { return strings.Compare(a.PushedBy, b.PushedBy) }},
	{"pulled", "Last pulled", true, func(a, b admin.ImageView) int { return a.LastPulled.Compare(b.LastPulled) }},
	{"pulls", "Pulls", true, func(a, b admin.ImageView) int { return cmp.Compare(a.Pulls, b.Pulls) }},
}

// repoNotices word the outcomes a redirect names (?notice=).
var repoNotices = map[string]string{
	"created": "Repository created. Push to it with the command below.",
	"saved":   "Settings saved.",
	"deleted": "Deleted.",
}

// GET /console/repositories/<name>?sort=&dir=: a repository's path,
// settings, tags and images.
func (c *Console) repository(w http.ResponseWriter, r *http.Request, p *Page) error {
	return c.showRepository(w, r, p, r.PathValue("repo"), "", http.StatusOK)
}

func (c *Console) showRepository(w http.ResponseWriter, r *http.Request, p *Page, name, confirmProblem string, status int) error {
	ctx := r.Context()
	d, err := c.cfg.Images.Repository(ctx, p.Who, name)
	if err != nil {
		return err
	}
	verb, err := c.cfg.Repos.RepoAccess(ctx, p.Who, name)
	if err != nil {
		return err
	}
	t, short := auth.SplitRepo(d.Name)
	if t != p.Tenancy && !p.Who.Super {
		// A public repository of another tenancy is readable through
		// the API too; the page works in its tenancy.
		p.Tenancy = p.Who.Tenancy
	}
	v := repoView{RepoDetails: d, Path: p.Host + "/" + d.Name, Short: short, MayManage: verb >= auth.Manage, ConfirmProblem: confirmProblem}
	v.Images = slices.Clone(d.Manifests)
	if v.Retention, err = c.repoRetention(r, p, d.Name); err != nil {
		return err
	}
	q := r.URL.Query()
	// Newest push first by default, as a registry's users look for it.
	o := sortRows(v.Images, imageColumns, q, order{"pushed", "desc"})
	v.Columns = headers(imageColumns, o, func(key, dir string) string {
		return p.Link("/repositories/"+escapePath(d.Name), "sort", key, "dir", dir) + "#images"
	}, nil)
	if n := repoNotices[q.Get("notice")]; n != "" {
		p.Notice = n
	}
	p.Title, p.Nav, p.Data = d.Name, "repositories", v
	return c.render(w, status, "repository", p)
}

// repoRetention reads a repository's retention for the tenancy's
// administrators (nil for anyone else: retention is theirs).
func (c *Console) repoRetention(r *http.Request, p *Page, name string) (*repoRetention, error) {
	t, _ := auth.SplitRepo(name)
	if c.cfg.Retention == nil || !p.Who.Admin(t) {
		return nil, nil
	}
	ctx := r.Context()
	ps, err := c.cfg.Retention.Policies(ctx, p.Who, t)
	if err != nil {
		return nil, err
	}
	out := &repoRetention{Policy: store.GlobalPolicy, Pinned: map[digest.Digest]store.Pin{}}
	exempt := map[string][]string{}
	for _, pol := range ps {
		exempt[pol.Name] = pol.ExemptTags
		if pol.Name == store.GlobalPolicy {
			continue
		}
		out.Overrides = append(out.Overrides, pol.Name)
		if slices.Contains(pol.Repositories, name) {
			out.Policy = pol.Name
		}
	}
	out.Exempt = exempt[out.Policy]
	pins, err := c.cfg.Retention.Pins(ctx, p.Who, name)
	if err != nil {
		return nil, err
	}
	now := c.cfg.Now()
	for _, pin := range pins {
		if pin.Expires.IsZero() || pin.Expires.After(now) {
			out.Pinned[pin.Digest] = pin
		}
	}
	return out, nil
}

// POST /console/repositories/<name> action=settings (public, immutable)
// | delete (confirm: the name typed) | delete-images (digest...).
func (c *Console) changeRepository(w http.ResponseWriter, r *http.Request, p *Page) error {
	ctx := r.Context()
	name := r.PathValue("repo")
	if err := parseForm(w, r); err != nil {
		return err
	}
	f := r.PostForm
	switch f.Get("action") {
	case "settings":
		pub, imm := f.Get("public") == "on", f.Get("immutable") == "on"
		if _, err := c.cfg.Repos.UpdateRepository(ctx, p.Who, name, admin.RepoChange{Public: &pub, ImmutableTags: &imm}); err != nil {
			return err
		}
		http.Redirect(w, r, p.Link("/repositories/"+escapePath(name), "notice", "saved"), http.StatusSeeOther)
		return nil
	case "retention":
		if c.cfg.Retention == nil {
			return errcode.New(errcode.Unsupported, "this console does not manage retention")
		}
		var err error
		switch pol := f.Get("policy"); pol {
		case store.GlobalPolicy:
			err = c.cfg.Retention.Unassign(ctx, p.Who, name)
			if e := userError(err); e != nil && e.Code == errcode.NotFound {
				err = nil // under the global policy already
			}
		default:
			// A repository has at most one override: leave the old one
			// first (a lost race is the API's 409, shown as it is).
			if err = c.cfg.Retention.Unassign(ctx, p.Who, name); userError(err) != nil && userError(err).Code == errcode.NotFound {
				err = nil
			}
			if err == nil {
				err = c.cfg.Retention.Assign(ctx, p.Who, name, pol)
			}
		}
		if err != nil {
			return err
		}
		http.Redirect(w, r, p.Link("/repositories/"+escapePath(name), "notice", "saved"), http.StatusSeeOther)
		return nil
	case "delete":
		if strings.TrimSpace(f.Get("confirm")) != name {
			return c.showRepository(w, r, p, name, fmt.Sprintf("Type %s exactly to delete it.", name), http.StatusBadRequest)
		}
		out, err := c.cfg.Repos.DeleteRepository(ctx, p.Who, name)
		if err != nil {
			return err
		}
		p.Notice = fmt.Sprintf("Deleted %s: %d tags, %d images.", out.Name, out.Tags, out.Manifests)
		return c.listRepositories(w, r, p, createForm{}, http.StatusOK)
	case "delete-images":
		var ds []digest.Digest
		for _, s := range f["digest"] {
			d, err := digest.Parse(s)
			if err != nil {
				return errcode.New(errcode.DigestInvalid, "%q is not a digest", clip(s))
			}
			ds = append(ds, d)
		}
		if len(ds) == 0 {
			return c.showRepository(w, r, p, name, "", http.StatusBadRequest)
		}
		if err := c.deleteImages(r, p, name, ds); err != nil {
			return err
		}
		http.Redirect(w, r, p.Link("/repositories/"+escapePath(name), "notice", "deleted"), http.StatusSeeOther)
		return nil
	}
	return errcode.New(errcode.Invalid, "unknown action %q", clip(f.Get("action")))
}

// deleteImages deletes images of a repository for the page's user,
// which needs manage on it: the verb the authorizer asks for DELETE
// /v2/<name>/manifests/<digest>, decided by the same code.
func (c *Console) deleteImages(r *http.Request, p *Page, name string, ds []digest.Digest) error {
	verb, err := c.cfg.Repos.RepoAccess(r.Context(), p.Who, name)
	if err != nil {
		return err
	}
	if verb < auth.Manage {
		return errcode.New(errcode.Denied, "%s may not delete images of %s: that needs the manage verb", p.Who, name)
	}
	if c.cfg.Deleter == nil {
		return errcode.New(errcode.Unsupported, "this console cannot delete images")
	}
	for _, d := range ds {
		if err := c.cfg.Deleter.DeleteImage(r.Context(), name, d); err != nil {
			return err
		}
	}
	return nil
}

// clip shortens a value quoted in a message.
func clip(s string) string {
	if len(s) > 72 {
		return s[:72] + "…"
	}
	return s
}
