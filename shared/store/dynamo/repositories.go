package dynamo

import (
	"context"
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/berth-registry/berth/shared/store"
)

// Partition keys and sort key prefixes (see the package doc).
const (
	pkRepos       = "REPOS"
	pkRepoPrefix  = "REPO#"
	pkBlobPrefix  = "BLOB#"
	pkUploadPrefx = "UPLOAD#"
	skManifest    = "M#"
	skReferrer    = "S#"
	skTag         = "T#"

	skLink   = "L#"
	skUpload = "U"
)

func repoPK(name string) string { return pkRepoPrefix + name }

// EnsureRepository implements store.Repositories: a read first keeps the
// common case (the repository exists) to one read, cheaper than a
// conditional write that fails. The event ctx carries rides the create
// only, so it is published only when this call created the repository.
func (t *Table) EnsureRepository(ctx context.Context, name string) error {
	if _, err := t.GetRepository(ctx, name); err == nil || !errors.Is(err, store.ErrNotFound) {
		return err
	}
	it, err := record(pkRepos, name, store.Repository{Name: name, Created: t.now().UTC()})
	if err != nil {
		return err
	}
	err = t.write(ctx, withEvent(ctx, it), "attribute_not_exists(pk)", nil, store.ErrExists)
	if errors.Is(err, store.ErrExists) {
		return nil // created by a concurrent push
	}
	return err
}

// GetRepository implements store.Repositories.
func (t *Table) GetRepository(ctx context.Context, name string) (store.Repository, error) {
	var r store.Repository
	return r, t.get(ctx, pkRepos, name, &r)
}

// ListRepositories implements store.Repositories: one Query on the
// REPOS partition, starting after the name given.
func (t *Table) ListRepositories(ctx context.Context, after string, limit int) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	in := &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: item{":pk": str(pkRepos)},
	}
	if after != "" {
		in.KeyConditionExpression = aws.String("pk = :pk AND sk > :after")
		in.ExpressionAttributeValues[":after"] = str(after)
	}
	var out []string
	err := t.query(ctx, in, limit, func(it item) (bool, error) {
		out = append(out, skOf(it, attrSK))
		return len(out) < limit, nil
	})
	return out, err
}

// PutRepository implements store.Repositories; it carries an event.
func (t *Table) PutRepository(ctx context.Context, r store.Repository) error {
	return t.putEv(ctx, pkRepos, r.Name, r)
}

// DeleteRepository implements store.Repositories; it carries an event.
func (t *Table) DeleteRepository(ctx context.Context, name string) error {
	_, err := t.delEv(ctx, pkRepos, name)
	return err
}
