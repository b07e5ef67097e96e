package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/events"
	"github.com/berth-registry/berth/shared/store"
)

// repoView is a repository's settings.
type repoView struct {
	Name          string    `json:"name"`
	Public        bool      `json:"public"`
	ImmutableTags bool      `json:"immutableTags"`
	Created       time.Time `json:"created,omitzero"`
	// Usage is the stored bytes the last collection measured (lists
	// only; absent before the first).
	Usage *usageView `json:"usage,omitempty"`
}

func viewRepo(r store.Repository) repoView {
	return repoView{Name: r.Name, Public: r.Public, ImmutableTags: r.ImmutableTags, Created: r.Created}
}

// verb is the strongest verb the actor holds on a repository, given its
// tenancy's statements (nil for another tenancy's or an administrator).
func verb(who authz.Actor, stmts []auth.Statement, name string, public bool) auth.Verb {
	if who.Super {
		return auth.Manage
	}
	return auth.RepoAccess(who.Principal, stmts, name, public)
}

// statementsFor loads the statements that can grant the actor anything
// on repositories of tenancy t.
func (a *API) statementsFor(ctx context.Context, who authz.Actor, t string) ([]auth.Statement, error) {
	if who.Super || who.Tenancy != t || who.IsAdmin() {
		return nil, nil
	}
	return a.statements(ctx, t)
}

// repository returns a repository's record when the actor holds need on
// it. Another tenancy's private repositories are not known to it, so
// that a name reveals nothing.
func (a *API) repository(ctx context.Context, who authz.Actor, name string, need auth.Verb) (store.Repository, error) {
	if err := checkRepoName(name); err != nil {
		return store.Repository{}, err
	}
	rec, err := a.meta.GetRepository(ctx, name)
	exists := err == nil
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return rec, err
	}
	t, _ := auth.SplitRepo(name)
	stmts, err := a.statementsFor(ctx, who, t)
	if err != nil {
		return rec, err
	}
	v := verb(who, stmts, name, rec.Public)
	unknown := errcode.New(errcode.NameUnknown, "repository %q is not known", name)
	switch {
	case v >= need && !exists:
		return rec, unknown
	case v >= need:
		return rec, nil
	case !who.Member(t) && !(exists && rec.Public):
		return rec, unknown
	}
	return rec, denied("%s may not %s repository %s: that needs the %s verb", who, verbAction(need), name, need)
}

func verbAction(v auth.Verb) string {
	switch v {
	case auth.Inspect:
		return "see"
	case auth.Read:
		return "read"
	case auth.Use:
		return "push to"
	}
	return "manage"
}

// GET /api/repositories?tenancy=&n=&last=: the repositories of a
// tenancy (the caller's by default) that the caller may inspect.
func (a *API) listRepositories(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	q := r.URL.Query()
	t := q.Get("tenancy")
	if t == "" {
		t = c.who.Tenancy
	}
	if err := checkTenancyName(t); err != nil {
		return err
	}
	n, err := intParam(r, "n", 100, 1000)
	if err != nil {
		return err
	}
	prefix := t + "/"
	after := prefix
	if last := q.Get("last"); last != "" {
		if !strings.HasPrefix(last, prefix) || auth.CheckRepository(last) != nil {
			return invalid("last must be a repository name in tenancy %s", t)
		}
		after = last
	}
	stmts, err := a.statementsFor(ctx, c.who, t)
	if err != nil {
		return err
	}
	use, err := a.repoUsage(ctx, t)
	if err != nil {
		return err
	}
	out := []repoView{}
	next := ""
	const batch = 1000
scan:
	for {
		names, err := a.meta.ListRepositories(ctx, after, batch)
		if err != nil {
			return err
		}
		for _, name := range names {
			if !strings.HasPrefix(name, prefix) {
				break scan
			}
			after = name
			rec, err := a.meta.GetRepository(ctx, name)
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted since listed
			} else if err != nil {
				return err
			}
			if verb(c.who, stmts, name, rec.Public) < auth.Inspect {
				continue
			}
			v := viewRepo(rec)
			v.Usage = use[name]
			out = append(out, v)
			if len(out) == n {
				next = name
				break scan
			}
		}
		if len(names) < batch {
			break
		}
	}
	res := map[string]any{"tenancy": t, "repositories": out}
	if next != "" {
		res["next"] = next
	}
	return reply(w, http.StatusOK, res)
}

// POST /api/repositories {"name","public","immutableTags"} creates a
// repository (manage).
func (a *API) createRepository(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	var req struct {
		Name          string `json:"name"`
		Public        bool   `json:"public"`
		ImmutableTags bool   `json:"immutableTags"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := checkRepoName(req.Name); err != nil {
		return err
	}
	t, _ := auth.SplitRepo(req.Name)
	if !c.who.Member(t) {
		return denied("%s may only create repositories in its own tenancy: %s/<name>", c.who, c.who.Tenancy)
	}
	if err := a.tenancyExists(ctx, t); err != nil {
		return err
	}
	stmts, err := a.statementsFor(ctx, c.who, t)
	if err != nil {
		return err
	}
	if v := verb(c.who, stmts, req.Name, false); v < auth.Manage {
		return denied("%s may not create repository %s: that needs the manage verb", c.who, req.Name)
	}
	if _, err := a.meta.GetRepository(ctx, req.Name); err == nil {
		return conflict("repository %q already exists; change its settings with PATCH (berth repos set)", req.Name)
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	rec := store.Repository{Name: req.Name, Created: a.now().UTC(), Public: req.Public, ImmutableTags: req.ImmutableTags}
	ev := events.New(ctx, rec.Created, events.RepositoryCreated, t, rec.Name, events.RepositoryData{Public: rec.Public, ImmutableTags: rec.ImmutableTags})
	if err := a.meta.PutRepository(events.With(ctx, ev), rec); err != nil {
		return err
	}
	a.record(ctx, c.who, t, "create repository", rec.Name, settings(rec))
	return reply(w, http.StatusCreated, viewRepo(rec))
}

func settings(r store.Repository) string {
	return fmt.Sprintf("public=%v immutableTags=%v", r.Public, r.ImmutableTags)
}

// PATCH /api/repositories/<name> {"public","immutableTags"} (manage)
func (a *API) updateRepository(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	var req struct {
		Public        *bool `json:"public"`
		ImmutableTags *bool `json:"immutableTags"`
	}
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Public == nil && req.ImmutableTags == nil {
		return invalid(`nothing to change: give "public" and/or "immutableTags" as true or false`)
	}
	rec, err := a.repository(ctx, c.who, c.repo, auth.Manage)
	if err != nil {
		return err
	}
	if req.Public != nil {
		rec.Public = *req.Public
	}
	if req.ImmutableTags != nil {
		rec.ImmutableTags = *req.ImmutableTags
	}
	t, _ := auth.SplitRepo(rec.Name)
	// Published only if "public" changed (events.Finish compares).
	ev := events.New(ctx, a.now(), events.RepositoryVisibilityChange, t, rec.Name, events.RepositoryData{Public: rec.Public, ImmutableTags: rec.ImmutableTags})
	if err := a.meta.PutRepository(events.With(ctx, ev), rec); err != nil {
		return err
	}
	a.record(ctx, c.who, t, "update repository", rec.Name, settings(rec))
	return reply(w, http.StatusOK, viewRepo(rec))
}

// deleted counts what a repository's deletion removed.
type deleted struct {
	Name      string `json:"name"`
	Tags      int    `json:"tags"`
	Manifests int    `json:"manifests"`
	BlobLinks int    `json:"blobLinks"`
}

// DELETE /api/repositories/<name> (manage): removes the tags, then the
// manifests, then the blob links, then the record. Blob bytes stay for
// garbage collection, which removes what nothing links any more.
func (a *API) deleteRepository(w http.ResponseWriter, r *http.Request, c *call) error {
	ctx := r.Context()
	rec, err := a.repository(ctx, c.who, c.repo, auth.Manage)
	if err != nil {
		return err
	}
	out, err := a.purge(ctx, rec.Name)
	if err != nil {
		return err
	}
	t, _ := auth.SplitRepo(rec.Name)
	ev := events.New(ctx, a.now(), events.RepositoryDeleted, t, rec.Name, events.RepositoryDeletedData{Tags: out.Tags, Manifests: out.Manifests, BlobLinks: out.BlobLinks})
	if err := a.meta.DeleteRepository(events.With(ctx, ev), rec.Name); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	a.record(ctx, c.who, t, "delete repository", rec.Name,
		fmt.Sprintf("%d tags, %d manifests, %d blob links", out.Tags, out.Manifests, out.BlobLinks))
	return reply(w, http.StatusOK, out)
}

// purge deletes a repository's content. Each pass lists from the start,
// since what it lists it deletes; a record deleted meanwhile by someone
// else is not an error.
func (a *API) purge(ctx context.Context, name string) (deleted, error) {
	const page = 500
	out := deleted{Name: name}
	gone := func(err error) error {
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return err
	}
	for {
		tags, err := a.meta.ListTags(ctx, name, "", page)
		if err != nil {
			return out, err
		}
		for _, t := range tags {
			if err := gone(a.meta.DeleteTag(ctx, name, t.Name)); err != nil {
				return out, err
			}
			out.Tags++
		}
		if len(tags) < page {
			break
		}
	}
	for {
		ms, err := a.meta.ListManifests(ctx, name, "", page)
		if err != nil {
			return out, err
		}
		for _, m := range ms {
			if err := gone(a.meta.DeleteManifest(ctx, name, m.Digest)); err != nil {
				return out, err
			}
			out.Manifests++
		}
		if len(ms) < page {
			break
		}
	}
	for {
		bs, err := a.meta.ListLinks(ctx, name, "", page)
		if err != nil {
			return out, err
		}
		for _, b := range bs {
			if err := gone(a.meta.UnlinkBlob(ctx, name, b.Digest)); err != nil {
				return out, err
			}
			out.BlobLinks++
		}
		if len(bs) < page {
			break
		}
	}
	return out, nil
}
