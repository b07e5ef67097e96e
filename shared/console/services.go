package console

import (
	"context"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/admin"
	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
)

// Repos is what the repository pages ask of the admin API's services
// (shared/admin's *API): the same methods its JSON endpoints call, with
// the signed-in user as the actor, so the console can see and change
// exactly what that user could through /api.
type Repos interface {
	// Repositories lists a page of a tenancy's repositories.
	Repositories(ctx context.Context, who authz.Actor, q admin.RepoQuery) (admin.RepoPage, error)
	// CreateRepository creates one (manage).
	CreateRepository(ctx context.Context, who authz.Actor, req admin.NewRepo) (admin.RepoView, error)
	// UpdateRepository changes one's settings (manage).
	UpdateRepository(ctx context.Context, who authz.Actor, name string, req admin.RepoChange) (admin.RepoView, error)
	// DeleteRepository deletes one and its content (manage).
	DeleteRepository(ctx context.Context, who authz.Actor, name string) (admin.Deleted, error)
	// RepoAccess is who's verb on a repository: it decides which
	// controls a page shows.
	RepoAccess(ctx context.Context, who authz.Actor, name string) (auth.Verb, error)
	// TenancyAccess is who's strongest verb in a tenancy: manage shows
	// the create form.
	TenancyAccess(ctx context.Context, who authz.Actor, tenancy string) (auth.Verb, error)
}

// Images is what the repository and image pages read.
type Images interface {
	// Repository returns a repository's settings, tags and images.
	Repository(ctx context.Context, who authz.Actor, name string) (admin.RepoDetails, error)
	// Image returns an image's details.
	Image(ctx context.Context, who authz.Actor, repo string, d digest.Digest) (admin.ImageDetails, error)
}

// ImageDeleter deletes an image as DELETE /v2/<name>/manifests/<digest>
// does (shared/registry's *Registry). The console asks Repos.RepoAccess
// first: deleting needs manage, as the authorizer decides for that
// route.
type ImageDeleter interface {
	// DeleteImage deletes manifest d of repository name and its tags.
	DeleteImage(ctx context.Context, name string, d digest.Digest) error
}

var (
	_ Repos  = (*admin.API)(nil)
	_ Images = (*admin.API)(nil)
)
