package console

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/berth-registry/berth/shared/admin"
	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/route"
	"github.com/berth-registry/berth/shared/store"
)

// repositoryRoutes adds the Repositories, Repository and Image pages.
func (c *Console) repositoryRoutes() {
	c.Handle("GET "+route.ConsolePath+"/repositories", c.repositories)
	c.Handle("POST "+route.ConsolePath+"/repositories", c.createRepository)
	c.Handle("GET "+route.ConsolePath+"/repositories/{repo...}", c.repository)
	c.Handle("POST "+route.ConsolePath+"/repositories/{repo...}", c.changeRepository)
	c.Handle("GET "+route.ConsolePath+"/images/{image...}", c.image)
	c.Handle("POST "+route.ConsolePath+"/images/{image...}", c.changeImage)
}

// maxListed bounds the repositories the list reads to sort (every
// column sorts the whole list, not one page); a tenancy with more is
// told to filter.
const maxListed = 1000

// perPage is how many rows a page of the list shows.
const perPage = 25

// repoRow is one row of the Repositories page.
type repoRow struct {
	admin.RepoView
	// Short is the name without the tenancy.
	Short string
	// Policy is the retention policy it is under (for the tenancy's
	// administrators, who manage retention; "" for anyone else).
	Policy string
}

// column is a sortable column header.
type column struct {
	Key, Label string
	Num        bool
	// Sort is the column's aria-sort ("ascending", "descending", or ""),
	// Link the URL that sorts by it (the other way when it is sorted).
	Sort, Link string
}

// reposView is the Repositories page's data.
type reposView struct {
	Rows      []repoRow
	Columns   []column
	Query     string
	Total     int
	Page      int
	Pages     int
	Prev      string
	Next      string
	Truncated bool
	MayCreate bool
	// ShowRetention shows each repository's retention policy (to the
	// tenancy's administrators).
	ShowRetention bool
	// Create holds a refused create form's values.
	Create createForm
}

// createForm is the create form's values and what was wrong with them.
type createForm struct {
	Name              string
	Public, Immutable bool
	Problem           string
}

// repoColumns are the list's columns, in order, and how each sorts.
var repoColumns = []struct {
	key, label string
	num        bool
	less       func(a, b repoRow) int
}{
	{"name", "Name", false, func(a, b repoRow) int { return strings.Compare(a.Name, b.Name) }},
	{"visibility", "Visibility", false, func(a, b repoRow) int { return cmpBool(a.Public, b.Public) }},
	{"immutable", "Tags", false, func(a, b repoRow) int { return cmpBool(a.ImmutableTags, b.ImmutableTags) }},
	{"images", "Images", true, func(a, b repoRow) int { return cmp.Compare(act(a).Images, act(b).Images) }},
	{"tags", "Tag count", true, func(a, b repoRow) int { return cmp.Compare(act(a).Tags, act(b).Tags) }},
	{"size", "Unique size", true, func(a, b repoRow) int { return cmp.Compare(unique(a), unique(b)) }},
	{"pushed", "Last pushed", true, func(a, b repoRow) int { return act(a).LastPushed.Compare(act(b).LastPushed) }},
	{"pulled", "Last pulled", true, func(a, b repoRow) int { return act(a).LastPulled.Compare(act(b).LastPulled) }},
	{"pulls", "Pulls", true, func(a, b repoRow) int { return cmp.Compare(act(a).Pulls, act(b).Pulls) }},
	{"policy", "Retention", false, func(a, b repoRow) int { return strings.Compare(a.Policy, b.Policy) }},
	{"scheduled", "Scheduled", true, func(a, b repoRow) int { return cmp.Compare(act(a).Scheduled, act(b).Scheduled) }},
}

func act(r repoRow) admin.RepoActivity {
	if r.Activity == nil {
		return admin.RepoActivity{}
	}
	return *r.Activity
}

func unique(r repoRow) int64 {
	if r.Usage == nil {
		return -1
	}
	return r.Usage.UniqueBytes
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// GET /console/repositories?q=&sort=&dir=&page=: the tenancy's
// repositories the user may see, filtered by name, sorted by any column,
// a page at a time.
func (c *Console) repositories(w http.ResponseWriter, r *http.Request, p *Page) error {
	return c.listRepositories(w, r, p, createForm{}, http.StatusOK)
}

func (c *Console) listRepositories(w http.ResponseWriter, r *http.Request, p *Page, form createForm, status int) error {
	ctx := r.Context()
	q := r.URL.Query()
	v := reposView{Query: strings.TrimSpace(strings.ToLower(q.Get("q"))), Create: form}
	rows, truncated, err := c.allRepositories(r, p, v.Query)
	if err != nil {
		return err
	}
	v.Truncated = truncated
	if err := c.retentionPolicies(r, p, rows); err != nil {
		return err
	}
	sortKey, dir := q.Get("sort"), q.Get("dir")
	if dir != "desc" {
		dir = "asc"
	}
	found := false
	for _, col := range repoColumns {
		if col.key == sortKey {
			found = true
			slices.SortStableFunc(rows, func(a, b repoRow) int {
				if n := col.less(a, b); n != 0 {
					if dir == "desc" {
						return -n
					}
					return n
				}
				return strings.Compare(a.Name, b.Name)
			})
		}
	}
	if !found {
		sortKey, dir = "name", "asc"
	}
	v.ShowRetention = c.cfg.Retention != nil && p.Who.Admin(p.Tenancy)
	for _, col := range repoColumns {
		if col.key == "policy" && !v.ShowRetention {
			continue
		}
		h := column{Key: col.key, Label: col.label, Num: col.num}
		next := "asc"
		if col.num {
			next = "desc" // counts and times read best largest first
		}
		if col.key == sortKey {
			h.Sort = map[string]string{"asc": "ascending", "desc": "descending"}[dir]
			next = map[string]string{"asc": "desc", "desc": "asc"}[dir]
		}
		h.Link = p.Link("/repositories", "q", v.Query, "sort", col.key, "dir", next)
		v.Columns = append(v.Columns, h)
	}
	v.Total = len(rows)
	v.Pages = max(1, (v.Total+perPage-1)/perPage)
	v.Page, _ = strconv.Atoi(q.Get("page"))
	v.Page = min(max(v.Page, 1), v.Pages)
	lo, hi := (v.Page-1)*perPage, min(v.Page*perPage, v.Total)
	v.Rows = rows[lo:hi]
	pageLink := func(n int) string {
		return p.Link("/repositories", "q", v.Query, "sort", sortKey, "dir", dir, "page", strconv.Itoa(n))
	}
	if v.Page > 1 {
		v.Prev = pageLink(v.Page - 1)
	}
	if v.Page < v.Pages {
		v.Next = pageLink(v.Page + 1)
	}
	verb, err := c.cfg.Repos.TenancyAccess(ctx, p.Who, p.Tenancy)
	if err != nil {
		return err
	}
	v.MayCreate = verb >= auth.Manage
	p.Title, p.Nav, p.Data = "Repositories", "repositories", v
	return c.render(w, status, "repositories", p)
}

// allRepositories reads the repositories of the page's tenancy whose
// name holds query, with their activity, up to maxListed.
func (c *Console) allRepositories(r *http.Request, p *Page, query string) ([]repoRow, bool, error) {
	var rows []repoRow
	after := ""
	for len(rows) < maxListed {
		page, err := c.cfg.Repos.Repositories(r.Context(), p.Who, admin.RepoQuery{
			Tenancy: p.Tenancy, Contains: query, Limit: admin.MaxActivityRepos, After: after, Activity: true,
		})
		if err != nil {
			return nil, false, err
		}
		for _, rv := range page.Repositories {
			rows = append(rows, repoRow{RepoView: rv, Short: strings.TrimPrefix(rv.Name, p.Tenancy+"/")})
		}
		if page.Next == "" {
			return rows, false, nil
		}
		after = page.Next
	}
	return rows, true, nil
}

// retentionPolicies sets each row's retention policy, where the user
// administers the tenancy (retention is its administrators').
func (c *Console) retentionPolicies(r *http.Request, p *Page, rows []repoRow) error {
	if c.cfg.Retention == nil || !p.Who.Admin(p.Tenancy) {
		return nil
	}
	ps, err := c.cfg.Retention.Policies(r.Context(), p.Who, p.Tenancy)
	if err != nil {
		return err
	}
	under := map[string]string{}
	for _, pol := range ps {
		for _, repo := range pol.Repositories {
			under[repo] = pol.Name
		}
	}
	for i := range rows {
		rows[i].Policy = cmp.Or(under[rows[i].Name], store.GlobalPolicy)
	}
	return nil
}

// POST /console/repositories (name, public, immutable): creates a
// repository in the page's tenancy and opens it; a refused name is
// shown on the form.
func (c *Console) createRepository(w http.ResponseWriter, r *http.Request, p *Page) error {
	if err := parseForm(w, r); err != nil {
		return err
	}
	f := createForm{
		Name:      strings.TrimSpace(strings.TrimPrefix(r.PostForm.Get("name"), p.Tenancy+"/")),
		Public:    r.PostForm.Get("public") == "on",
		Immutable: r.PostForm.Get("immutable") == "on",
	}
	if f.Name == "" {
		f.Problem = "Give the repository a name."
		return c.listRepositories(w, r, p, f, http.StatusBadRequest)
	}
	rv, err := c.cfg.Repos.CreateRepository(r.Context(), p.Who, admin.NewRepo{Name: p.Tenancy + "/" + f.Name, Public: f.Public, ImmutableTags: f.Immutable})
	if e := userError(err); e != nil {
		f.Problem = e.Message
		return c.listRepositories(w, r, p, f, e.HTTPStatus())
	} else if err != nil {
		return err
	}
	http.Redirect(w, r, p.Link("/repositories/"+rv.Name, "notice", "created"), http.StatusSeeOther)
	return nil
}

// maxForm bounds a console form: names, a few flags, and up to a page
// of digests.
const maxForm = 256 << 10

// parseForm reads a POSTed form, bounded.
func parseForm(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, maxForm)
	if err := r.ParseForm(); err != nil {
		return errcode.New(errcode.Invalid, "the form could not be read")
	}
	return nil
}

// userError returns err when it is for the user to read (a refusal
// with a message: invalid, denied, conflict, not found), else nil.
func userError(err error) *errcode.Error {
	e, ok := err.(*errcode.Error)
	if !ok || e.HTTPStatus() >= 500 {
		return nil
	}
	return e
}

// escapePath escapes a repository name for a URL path, keeping '/'.
func escapePath(name string) string {
	parts := strings.Split(name, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}
