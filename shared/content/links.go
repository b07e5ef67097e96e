package content

import (
	"context"
	"errors"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
)

// Links are the repository links a repair walks.
type Links interface {
	// ListRepositories, as store.Repositories.
	ListRepositories(ctx context.Context, after string, limit int) ([]string, error)
	// GetLink, as store.Blobs.
	GetLink(ctx context.Context, repo string, d digest.Digest) (store.Blob, error)
}

// LinkRepairs are the links Repoint moves.
type LinkRepairs interface {
	Links
	// RepointLink, as store.BlobRepairs.
	RepointLink(ctx context.Context, repo string, b store.Blob, old string) error
}

// walkPage is how many repositories a walk lists at a time.
const walkPage = 100

// EachLink calls f with every repository that links d and its link, in
// repository order: one GetLink per repository. There is no index from
// a digest to the repositories that link it (a blob GET must be one
// read of the link), so this walk is for repairs, which are rare.
func EachLink(ctx context.Context, meta Links, d digest.Digest, f func(repo string, l store.Blob) error) error {
	for after := ""; ; {
		names, err := meta.ListRepositories(ctx, after, walkPage)
		if err != nil {
			return err
		}
		for _, repo := range names {
			l, err := meta.GetLink(ctx, repo, d)
			if errors.Is(err, store.ErrNotFound) {
				continue
			} else if err != nil {
				return err
			}
			if err := f(repo, l); err != nil {
				return err
			}
		}
		if len(names) < walkPage {
			return nil
		}
		after = names[len(names)-1]
	}
}

// Repoint makes every link of rec.Digest that names another object
// name rec's: the links made before a heal replaced the record name the
// bad object, and a blob GET reads only the link. Each move is one write
// conditional on the link as read (store.RepointLink); a link that
// changed meanwhile is read again. rec must be the digest's record,
// verified and not condemned. It returns the repositories whose link
// moved.
func Repoint(ctx context.Context, meta LinkRepairs, rec store.Blob) ([]string, error) {
	var moved []string
	err := EachLink(ctx, meta, rec.Digest, func(repo string, l store.Blob) error {
		for range 3 {
			if l.Key == rec.Key {
				return nil
			}
			err := meta.RepointLink(ctx, repo, rec, l.Key)
			switch {
			case err == nil:
				moved = append(moved, repo)
				return nil
			case errors.Is(err, store.ErrNotFound):
				return nil
			case !errors.Is(err, store.ErrConflict):
				return err
			}
			if l, err = meta.GetLink(ctx, repo, rec.Digest); errors.Is(err, store.ErrNotFound) {
				return nil
			} else if err != nil {
				return err
			}
		}
		return nil // still moving: the next collection repoints it
	})
	return moved, err
}
