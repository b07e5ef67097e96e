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
}

// imageColumns are the images table's sortable columns.
var imageColumns = []struct {
	key, label string
	num        bool
	less       func(a, b admin.ImageView) int
}{
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
	q := r.URL.Query()
	sortKey, dir := q.Get("sort"), q.Get("dir")
	if dir != "asc" {
		dir = "desc"
	}
	found := false
	for _, col := range imageColumns {
		if col.key == sortKey {
			found = true
			slices.SortStableFunc(v.Images, func(a, b admin.ImageView) int {
				n := col.less(a, b)
				if dir == "desc" {
					n = -n
				}
				return n
			})
		}
	}
	if !found {
		// Newest push first, as a registry's users look for it.
		sortKey, dir = "pushed", "desc"
		slices.SortStableFunc(v.Images, func(a, b admin.ImageView) int { return b.LastPushed.Compare(a.LastPushed) })
	}
	for _, col := range imageColumns {
		h := column{Key: col.key, Label: col.label, Num: col.num}
		next := "asc"
		if col.num {
			next = "desc"
		}
		if col.key == sortKey {
			h.Sort = map[string]string{"asc": "ascending", "desc": "descending"}[dir]
			next = map[string]string{"asc": "desc", "desc": "asc"}[dir]
		}
		h.Link = p.Link("/repositories/"+escapePath(d.Name), "sort", col.key, "dir", next) + "#images"
		v.Columns = append(v.Columns, h)
	}
	if n := repoNotices[q.Get("notice")]; n != "" {
		p.Notice = n
	}
	p.Title, p.Nav, p.Data = d.Name, "repositories", v
	return c.render(w, status, "repository", p)
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
