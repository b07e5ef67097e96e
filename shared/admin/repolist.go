package admin

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/store"
)

// RepoQuery selects a page of a tenancy's repositories.
type RepoQuery struct {
	// Tenancy is the tenancy listed ("": the actor's).
	Tenancy string
	// Prefix keeps the names whose part after "<tenancy>/" starts with
	// it ("team/" lists <tenancy>/team/...); the listing starts there,
	// so a prefix costs no reads of the names before it.
	Prefix string
	// Contains keeps the names holding it anywhere after "<tenancy>/".
	Contains string
	// Limit is the most repositories on the page (1..1000; 0: 100).
	Limit int
	// After is the last name of the previous page (RepoPage.Next).
	After string
	// Activity adds each repository's RepoActivity: it reads every
	// image's record and statistics, so it is asked for, not implied,
	// and caps Limit at MaxActivityRepos.
	Activity bool
}

// MaxActivityRepos is the largest page of repositories listed with
// their activity.
const MaxActivityRepos = 100

// RepoPage is one page of repositories; Next, when set, is the After of
// the following page.
type RepoPage struct {
	Tenancy      string     `json:"tenancy"`
	Repositories []RepoView `json:"repositories"`
	Next         string     `json:"next,omitempty"`
}

// RepoActivity sums a repository's images: how many, its tags, its
// last push and pull, and its pulls.
type RepoActivity struct {
	Images     int       `json:"images"`
	Tags       int       `json:"tags"`
	LastPushed time.Time `json:"lastPushed,omitzero"`
	LastPulled time.Time `json:"lastPulled,omitzero"`
	Pulls      int64     `json:"pulls"`
	// Scheduled counts the images a retention run has noticed for
	// deletion (each pull of one warns; docs/retention.md).
	Scheduled int `json:"scheduled"`
}

// nameFilterMax bounds a name filter: no repository name is longer.
const nameFilterMax = 255

// checkNameFilter refuses a filter that no repository name could match
// (repository names are lower-case letters, digits, separators and /).
func checkNameFilter(what, s string) error {
	if len(s) > nameFilterMax {
		return invalid("%s is longer than any repository name (%d characters)", what, nameFilterMax)
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || strings.ContainsRune("._-/", r)) {
			return invalid("%s %q can match no repository name: names hold a-z, 0-9, '.', '_', '-' and '/'", what, clipped(s))
		}
	}
	return nil
}

// Repositories lists the repositories of a tenancy that who may
// inspect, in name order, filtered by q (GET /api/repositories).
func (a *API) Repositories(ctx context.Context, who authz.Actor, q RepoQuery) (RepoPage, error) {
	t := q.Tenancy
	if t == "" {
		t = who.Tenancy
	}
	if err := checkTenancyName(t); err != nil {
		return RepoPage{}, err
	}
	for _, f := range []struct{ what, v string }{{"prefix", q.Prefix}, {"contains", q.Contains}} {
		if err := checkNameFilter(f.what, f.v); err != nil {
			return RepoPage{}, err
		}
	}
	n := q.Limit
	switch {
	case n == 0:
		n = 100
	case n < 1 || n > 1000:
		return RepoPage{}, invalid("n must be a number from 1 to 1000, not %d", n)
	case q.Activity && n > MaxActivityRepos:
		return RepoPage{}, invalid("n may be at most %d with activity=true (it reads every image)", MaxActivityRepos)
	}
	prefix := t + "/" + q.Prefix
	// Just before the prefix: a name equal to it is listed too.
	after := prefix[:len(prefix)-1]
	if last := q.After; last != "" {
		if !strings.HasPrefix(last, t+"/") || auth.CheckRepository(last) != nil {
			return RepoPage{}, invalid("last must be a repository name in tenancy %s", t)
		}
		after = max(last, after)
	}
	stmts, err := a.statementsFor(ctx, who, t)
	if err != nil {
		return RepoPage{}, err
	}
	use, err := a.repoUsage(ctx, t)
	if err != nil {
		return RepoPage{}, err
	}
	out := RepoPage{Tenancy: t, Repositories: []RepoView{}}
	const batch = 1000
	for {
		names, err := a.meta.ListRepositories(ctx, after, batch)
		if err != nil {
			return out, err
		}
		for _, name := range names {
			if !strings.HasPrefix(name, prefix) {
				if name > prefix {
					return out, nil
				}
				after = name
				continue
			}
			after = name
			if !strings.Contains(name[len(t)+1:], q.Contains) {
				continue
			}
			rec, err := a.meta.GetRepository(ctx, name)
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted since listed
			} else if err != nil {
				return out, err
			}
			if verb(who, stmts, name, rec.Public) < auth.Inspect {
				continue
			}
			v := viewRepo(rec)
			v.Usage = use[name]
			if q.Activity {
				act, err := a.repoActivity(ctx, name)
				if err != nil {
					return out, err
				}
				v.Activity = &act
			}
			out.Repositories = append(out.Repositories, v)
			if len(out.Repositories) == n {
				out.Next = name
				return out, nil
			}
		}
		if len(names) < batch {
			return out, nil
		}
	}
}

// repoActivity sums the activity of a repository's images.
func (a *API) repoActivity(ctx context.Context, repo string) (RepoActivity, error) {
	var act RepoActivity
	stats := map[digest.Digest]store.ImageStats{}
	if a.cfg.Stats != nil {
		for after := digest.Digest(""); ; {
			ss, err := a.cfg.Stats.ListImageStats(ctx, repo, after, 1000)
			if err != nil {
				return act, err
			}
			for _, s := range ss {
				stats[s.Digest] = s
			}
			if len(ss) < 1000 {
				break
			}
			after = ss[len(ss)-1].Digest
		}
	}
	for after := digest.Digest(""); ; {
		ms, err := a.meta.ListManifests(ctx, repo, after, 1000)
		if err != nil {
			return act, err
		}
		for _, m := range ms {
			s := store.ActivityOf(m, stats[m.Digest])
			act.Images++
			if stats[m.Digest].Notice != nil {
				act.Scheduled++
			}
			act.Pulls += s.Pulls
			if s.LastPushed.After(act.LastPushed) {
				act.LastPushed = s.LastPushed
			}
			if s.LastPulled.After(act.LastPulled) {
				act.LastPulled = s.LastPulled
			}
		}
		if len(ms) < 1000 {
			break
		}
		after = ms[len(ms)-1].Digest
	}
	for after := ""; ; {
		ts, err := a.meta.ListTags(ctx, repo, after, 1000)
		if err != nil {
			return act, err
		}
		act.Tags += len(ts)
		if len(ts) < 1000 {
			break
		}
		after = ts[len(ts)-1].Name
	}
	return act, nil
}

// GET /api/repositories?tenancy=&prefix=&contains=&n=&last=&activity=
func (a *API) listRepositories(w http.ResponseWriter, r *http.Request, c *call) error {
	q := r.URL.Query()
	n, err := intParam(r, "n", 100, 1000)
	if err != nil {
		return err
	}
	rq := RepoQuery{Tenancy: q.Get("tenancy"), Prefix: q.Get("prefix"), Contains: q.Get("contains"), Limit: n, After: q.Get("last")}
	switch act := q.Get("activity"); act {
	case "", "false":
	case "true":
		rq.Activity = true
	default:
		return invalid("activity must be true or false, not %q", clipped(act))
	}
	page, err := a.Repositories(r.Context(), c.who, rq)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, page)
}
