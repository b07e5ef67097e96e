package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/events"
	"github.com/berth-registry/berth/shared/store"
)

// RepoView is a repository's settings, as the API lists them.
type RepoView struct {
	Name          string    `json:"name"`
	Public        bool      `json:"public"`
	ImmutableTags bool      `json:"immutableTags"`
	Created       time.Time `json:"created,omitzero"`
	// Usage is the stored bytes the last collection measured (lists
	// only; absent before the first).
	Usage *UsageView `json:"usage,omitempty"`
	// Activity sums its images' activity (lists asked for it only).
	Activity *RepoActivity `json:"activity,omitempty"`
}

func viewRepo(r store.Repository) RepoView {
	return RepoView{Name: r.Name, Public: r.Public, ImmutableTags: r.ImmutableTags, Created: r.Created}
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

// NewRepo is a repository to create.
type NewRepo struct {
	Name          string `json:"name"`
	Public        bool   `json:"public"`
	ImmutableTags bool   `json:"immutableTags"`
}

// CreateRepository creates a repository for who, which needs manage on
// it (POST /api/repositories).
func (a *API) CreateRepository(ctx context.Context, who authz.Actor, req NewRepo) (RepoView, error) {
	if err := checkRepoName(req.Name); err != nil {
		return RepoView{}, err
	}
	t, _ := auth.SplitRepo(req.Name)
	if !who.Member(t) {
		return RepoView{}, denied("%s may only create repositories in its own tenancy: %s/<name>", who, who.Tenancy)
	}
	if err := a.tenancyExists(ctx, t); err != nil {
		return RepoView{}, err
	}
	stmts, err := a.statementsFor(ctx, who, t)
	if err != nil {
		return RepoView{}, err
	}
	if v := verb(who, stmts, req.Name, false); v < auth.Manage {
		return RepoView{}, denied("%s may not create repository %s: that needs the manage verb", who, req.Name)
	}
	if _, err := a.meta.GetRepository(ctx, req.Name); err == nil {
		return RepoView{}, conflict("repository %q already exists; change its settings with PATCH (berth repos set)", req.Name)
	} else if !errors.Is(err, store.ErrNotFound) {
		return RepoView{}, err
	}
	rec := store.Repository{Name: req.Name, Created: a.now().UTC(), Public: req.Public, ImmutableTags: req.ImmutableTags}
	ev := events.New(ctx, rec.Created, events.RepositoryCreated, t, rec.Name, events.RepositoryData{Public: rec.Public, ImmutableTags: rec.ImmutableTags})
	if err := a.meta.PutRepository(events.With(ctx, ev), rec); err != nil {
		return RepoView{}, err
	}
	a.record(ctx, who, t, "create repository", rec.Name, settings(rec))
	return viewRepo(rec), nil
}

// POST /api/repositories {"name","public","immutableTags"} creates a
// repository (manage).
func (a *API) createRepository(w http.ResponseWriter, r *http.Request, c *call) error {
	var req NewRepo
	if err := decode(r, &req); err != nil {
		return err
	}
	v, err := a.CreateRepository(r.Context(), c.who, req)
	if err != nil {
		return err
	}
	return reply(w, http.StatusCreated, v)
}

func settings(r store.Repository) string {
	return fmt.Sprintf("public=%v immutableTags=%v", r.Public, r.ImmutableTags)
}

// RepoChange is a change to a repository's settings; nil leaves a
// setting as it is.
type RepoChange struct {
	Public        *bool `json:"public"`
	ImmutableTags *bool `json:"immutableTags"`
}

// UpdateRepository changes a repository's settings for who, which needs
// manage on it (PATCH /api/repositories/<name>).
func (a *API) UpdateRepository(ctx context.Context, who authz.Actor, name string, req RepoChange) (RepoView, error) {
	if req.Public == nil && req.ImmutableTags == nil {
		return RepoView{}, invalid(`nothing to change: give "public" and/or "immutableTags" as true or false`)
	}
	rec, err := a.repository(ctx, who, name, auth.Manage)
	if err != nil {
		return RepoView{}, err
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
		return RepoView{}, err
	}
	a.record(ctx, who, t, "update repository", rec.Name, settings(rec))
	return viewRepo(rec), nil
}

// PATCH /api/repositories/<name> {"public","immutableTags"} (manage)
func (a *API) updateRepository(w http.ResponseWriter, r *http.Request, c *call) error {
	var req RepoChange
	if err := decode(r, &req); err != nil {
		return err
	}
	v, err := a.UpdateRepository(r.Context(), c.who, c.repo, req)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, v)
}

// Deleted counts what a repository's deletion removed.
type Deleted struct {
	Name      string `json:"name"`
	Tags      int    `json:"tags"`
	Manifests int    `json:"manifests"`
	BlobLinks int    `json:"blobLinks"`
}

// DeleteRepository deletes a repository for who, which needs manage on
// it (DELETE /api/repositories/<name>): its tags, then its manifests,
// then its blob links, then its record. Blob bytes stay for garbage
// collection, which removes what nothing links any more.
func (a *API) DeleteRepository(ctx context.Context, who authz.Actor, name string) (Deleted, error) {
	rec, err := a.repository(ctx, who, name, auth.Manage)
	if err != nil {
		return Deleted{}, err
	}
	out, err := a.purge(ctx, rec.Name)
	if err != nil {
		return out, err
	}
	t, _ := auth.SplitRepo(rec.Name)
	ev := events.New(ctx, a.now(), events.RepositoryDeleted, t, rec.Name, events.RepositoryDeletedData{Tags: out.Tags, Manifests: out.Manifests, BlobLinks: out.BlobLinks})
	if err := a.meta.DeleteRepository(events.With(ctx, ev), rec.Name); err != nil && !errors.Is(err, store.ErrNotFound) {
		return out, err
	}
	a.record(ctx, who, t, "delete repository", rec.Name,
		fmt.Sprintf("%d tags, %d manifests, %d blob links", out.Tags, out.Manifests, out.BlobLinks))
	return out, nil
}

// DELETE /api/repositories/<name> (manage)
func (a *API) deleteRepository(w http.ResponseWriter, r *http.Request, c *call) error {
	out, err := a.DeleteRepository(r.Context(), c.who, c.repo)
	if err != nil {
		return err
	}
	return reply(w, http.StatusOK, out)
}

// RepoAccess is the strongest verb who holds on repository name, by the
// decision every request on it gets (0: none; a repository who may not
// see is NAME_UNKNOWN, as through the API).
func (a *API) RepoAccess(ctx context.Context, who authz.Actor, name string) (auth.Verb, error) {
	rec, err := a.repository(ctx, who, name, auth.Inspect)
	if err != nil {
		var e *errcode.Error
		if errors.As(err, &e) && e.Code == errcode.Denied {
			return 0, nil
		}
		return 0, err
	}
	t, _ := auth.SplitRepo(rec.Name)
	stmts, err := a.statementsFor(ctx, who, t)
	if err != nil {
		return 0, err
	}
	return verb(who, stmts, rec.Name, rec.Public), nil
}

// TenancyAccess is the strongest verb who holds on some repositories of
// tenancy t: manage there lets it create repositories (those its
// statements cover).
func (a *API) TenancyAccess(ctx context.Context, who authz.Actor, t string) (auth.Verb, error) {
	switch {
	case who.Super || who.Admin(t):
		return auth.Manage, nil
	case !who.Member(t):
		return 0, nil
	}
	stmts, err := a.statements(ctx, t)
	if err != nil {
		return 0, err
	}
	return auth.TenancyAccess(who.Principal, stmts), nil
}

// purge deletes a repository's content. Each pass lists from the start,
// since what it lists it deletes; a record deleted meanwhile by someone
// else is not an error.
func (a *API) purge(ctx context.Context, name string) (Deleted, error) {
	const page = 500
	out := Deleted{Name: name}
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
