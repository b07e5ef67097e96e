package console

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/admin"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/retention"
	"github.com/berth-registry/berth/shared/route"
	"github.com/berth-registry/berth/shared/store"
)

// The Retention page: the global policy and the overrides with their
// repositories, recent runs (with breaker trips), the recycle bin with
// restore, and pins. Every read and write goes through retention.API's
// methods, as /api/retention/ does, so who may do what is decided there
// (administrators of the tenancy).

// retentionRoutes adds the Retention pages.
func (c *Console) retentionRoutes() {
	const r = route.ConsolePath + "/retention"
	c.Handle("GET "+r, c.retentionPage)
	c.Handle("GET "+r+"/policies/new", c.policyNew)
	c.Handle("POST "+r+"/policies", c.policySubmit)
	c.Handle("GET "+r+"/policies/{name}", c.policyEdit)
	c.Handle("POST "+r+"/policies/{name}", c.policySubmit)
	c.Handle("POST "+r+"/policies/{name}/delete", c.policyDelete)
	c.Handle("GET "+r+"/runs/{run}", c.runPage)
	c.Handle("POST "+r+"/runs/{run}/restore", c.runRestore)
	c.Handle("POST "+r+"/restore", c.binRestore)
	c.Handle("POST "+r+"/pins", c.pinAdd)
	c.Handle("POST "+r+"/unpin", c.unpin)
}

// maxScanRepos bounds the repositories whose bin and pins the Retention
// page reads (two reads each); a tenancy with more says so.
const maxScanRepos = 200

// retentionView is the Retention page's data.
type retentionView struct {
	Policies []retention.PolicyView
	Runs     []store.RetentionRun
	Bin      []retention.BinEntry
	Pins     []store.Pin
	// Repositories are the tenancy's repositories (for the pin form);
	// Partial says the bin and pins were read for the first
	// maxScanRepos only.
	Repositories []string
	Partial      bool
	Now          time.Time
}

// Cooling reports whether a policy is in its cooling period: changed
// lately, it only reports until then.
func (v retentionView) Cooling(p retention.PolicyView) bool {
	return !p.CoolingUntil.IsZero() && v.Now.Before(p.CoolingUntil)
}

// Percent shows a share (0.5) as a percentage ("50%").
func (retentionView) Percent(share float64) string {
	return strconv.FormatFloat(share*100, 'f', -1, 64) + "%"
}

// notices are the messages a retention write redirects with
// (?notice=<key>&n=<count>&name=<name>): fixed texts, so nothing a link
// carries is shown as it is.
var notices = map[string]string{
	"saved":    "Saved retention policy %s.",
	"deleted":  "Deleted retention policy %s.",
	"restored": "Restored %s from the recycle bin.",
	"pinned":   "Pinned %s: retention keeps it.",
	"unpinned": "Unpinned %s.",
}

// noticeFrom is the page's notice from a redirect's parameters.
func noticeFrom(r *http.Request) string {
	q := r.URL.Query()
	f, ok := notices[q.Get("notice")]
	if !ok {
		return ""
	}
	what := q.Get("name")
	if n := q.Get("n"); n != "" {
		if k, err := strconv.Atoi(n); err == nil {
			what = plural(k, "image")
		}
	}
	return strings.Replace(f, "%s", what, 1)
}

// GET /console/retention
func (c *Console) retentionPage(w http.ResponseWriter, r *http.Request, p *Page) error {
	ctx := r.Context()
	v := retentionView{Now: p.now}
	var err error
	if v.Policies, err = c.cfg.Retention.Policies(ctx, p.Who, p.Tenancy); err != nil {
		return err
	}
	if v.Runs, _, err = c.cfg.Retention.Runs(ctx, p.Who, p.Tenancy, "", 20); err != nil {
		return err
	}
	if v.Repositories, v.Partial, err = c.repoNames(ctx, p); err != nil {
		return err
	}
	for i, repo := range v.Repositories {
		if i == maxScanRepos {
			v.Partial = true
			break
		}
		bin, err := c.cfg.Retention.Bin(ctx, p.Who, repo, "", 100)
		if err != nil {
			return err
		}
		v.Bin = append(v.Bin, bin...)
		pins, err := c.cfg.Retention.Pins(ctx, p.Who, repo)
		if err != nil {
			return err
		}
		v.Pins = append(v.Pins, pins...)
	}
	slices.SortFunc(v.Bin, func(a, b retention.BinEntry) int { return b.Deleted.Compare(a.Deleted) })
	p.Title, p.Nav, p.Data, p.Notice = "Retention", "retention", v, noticeFrom(r)
	return c.render(w, http.StatusOK, "retention", p)
}

// repoNames lists the tenancy's repositories the actor may see (the
// first 1000; more says there are others).
func (c *Console) repoNames(ctx context.Context, p *Page) ([]string, bool, error) {
	page, err := c.cfg.Admin.Repositories(ctx, p.Who, admin.RepoQuery{Tenancy: p.Tenancy, Limit: 1000})
	if err != nil {
		return nil, false, err
	}
	out := make([]string, 0, len(page.Repositories))
	for _, r := range page.Repositories {
		out = append(out, r.Name)
	}
	return out, page.Next != "", nil
}

// runView is the run page's data.
type runView struct {
	retention.RunView
	Decisions []store.Decision
	// Next is the cursor of the next page of decisions.
	Next string
	// Deleted counts the run's deletions (what Restore all puts back).
	Deleted int
}

// GET /console/retention/runs/{run}?after=: a run's outcome per
// repository and its decision about every image.
func (c *Console) runPage(w http.ResponseWriter, r *http.Request, p *Page) error {
	ctx := r.Context()
	id := r.PathValue("run")
	run, err := c.cfg.Retention.Run(ctx, p.Who, p.Tenancy, id, false)
	if err != nil {
		return err
	}
	v := runView{RunView: run}
	if v.Decisions, v.Next, err = c.cfg.Retention.Decisions(ctx, p.Who, p.Tenancy, id, r.URL.Query().Get("after"), 200); err != nil {
		return err
	}
	for _, res := range run.Results {
		v.Deleted += res.Deleted
	}
	p.Title, p.Nav, p.Data, p.Notice = "Retention run "+id, "retention", v, noticeFrom(r)
	return c.render(w, http.StatusOK, "retention-run", p)
}

// POST /console/retention/runs/{run}/restore: put back what the run
// deleted.
func (c *Console) runRestore(w http.ResponseWriter, r *http.Request, p *Page) error {
	id := r.PathValue("run")
	n, err := c.cfg.Retention.RestoreRun(r.Context(), p.Who, p.Tenancy, id)
	if err != nil {
		return err
	}
	http.Redirect(w, r, p.Link("/retention/runs/"+id, "notice", "restored", "n", strconv.Itoa(n)), http.StatusSeeOther)
	return nil
}

// POST /console/retention/restore (repository, digest): put one image
// back from the recycle bin.
func (c *Console) binRestore(w http.ResponseWriter, r *http.Request, p *Page) error {
	n, err := c.cfg.Retention.Restore(r.Context(), p.Who, r.PostFormValue("repository"), r.PostFormValue("digest"))
	if err != nil {
		return err
	}
	http.Redirect(w, r, p.Link("/retention", "notice", "restored", "n", strconv.Itoa(n)), http.StatusSeeOther)
	return nil
}

// POST /console/retention/pins (repository, digest, expires, note)
func (c *Console) pinAdd(w http.ResponseWriter, r *http.Request, p *Page) error {
	repo, d, err := imageForm(r)
	if err != nil {
		return err
	}
	var expires time.Time
	if s := strings.TrimSpace(r.PostFormValue("expires")); s != "" {
		day, err := time.Parse("2006-01-02", s)
		if err != nil {
			return errcode.New(errcode.Invalid, "expires must be a date (YYYY-MM-DD), not %q", s)
		}
		expires = day.Add(24 * time.Hour).UTC() // the end of that day
	}
	if _, err := c.cfg.Retention.Pin(r.Context(), p.Who, repo, d, expires, strings.TrimSpace(r.PostFormValue("note"))); err != nil {
		return err
	}
	http.Redirect(w, r, p.Link("/retention", "notice", "pinned", "name", repo+"@"+d.Encoded()[:12]), http.StatusSeeOther)
	return nil
}

// POST /console/retention/unpin (repository, digest)
func (c *Console) unpin(w http.ResponseWriter, r *http.Request, p *Page) error {
	repo, d, err := imageForm(r)
	if err != nil {
		return err
	}
	if err := c.cfg.Retention.Unpin(r.Context(), p.Who, repo, d); err != nil {
		return err
	}
	http.Redirect(w, r, p.Link("/retention", "notice", "unpinned", "name", repo+"@"+d.Encoded()[:12]), http.StatusSeeOther)
	return nil
}

// imageForm reads a form's repository and digest.
func imageForm(r *http.Request) (string, digest.Digest, error) {
	repo := strings.TrimSpace(r.PostFormValue("repository"))
	d, err := digest.Parse(strings.TrimSpace(r.PostFormValue("digest")))
	if err != nil {
		return "", "", errcode.New(errcode.DigestInvalid, "the digest must look like sha256:<64 hex digits>")
	}
	return repo, d, nil
}
