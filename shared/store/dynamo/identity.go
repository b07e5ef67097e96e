package dynamo

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/berth-registry/berth/shared/store"
)

// Identity partitions and sort key prefixes (see the package doc). A
// tenancy's users, groups, policies and tokens share its partition, so
// each listing is one Query.
const (
	pkTenancies     = "TENANCIES"
	pkTenancyPrefix = "TENANCY#"
	pkAuditPrefix   = "AUDIT#"
	skUser          = "U#"
	skGroup         = "G#"
	skPolicy        = "P#"
	skToken         = "K#"
)

func tenancyPK(t string) string { return pkTenancyPrefix + t }

// tokenSK keys a token under its user. Names may contain '#', so a read
// checks the record's own user and id rather than trusting the key.
func tokenSK(user, id string) string { return skToken + user + "#" + id }

// CreateTenancy implements store.Tenancies.
func (t *Table) CreateTenancy(ctx context.Context, ten store.Tenancy) error {
	return t.create(ctx, pkTenancies, ten.Name, ten)
}

// GetTenancy implements store.Tenancies.
func (t *Table) GetTenancy(ctx context.Context, name string) (store.Tenancy, error) {
	var ten store.Tenancy
	return ten, t.get(ctx, pkTenancies, name, &ten)
}

// ListTenancies implements store.Tenancies.
func (t *Table) ListTenancies(ctx context.Context) ([]store.Tenancy, error) {
	return listAll[store.Tenancy](ctx, t, pkTenancies, "")
}

// PutUser implements store.Users.
func (t *Table) PutUser(ctx context.Context, u store.User) error {
	return t.put(ctx, tenancyPK(u.Tenancy), skUser+u.Name, u)
}

// GetUser implements store.Users.
func (t *Table) GetUser(ctx context.Context, tenancy, name string) (store.User, error) {
	var u store.User
	return u, t.get(ctx, tenancyPK(tenancy), skUser+name, &u)
}

// ListUsers implements store.Users.
func (t *Table) ListUsers(ctx context.Context, tenancy string) ([]store.User, error) {
	return listAll[store.User](ctx, t, tenancyPK(tenancy), skUser)
}

// DeleteUser implements store.Users.
func (t *Table) DeleteUser(ctx context.Context, tenancy, name string) error {
	_, err := t.del(ctx, tenancyPK(tenancy), skUser+name)
	return err
}

// PutGroup implements store.Groups.
func (t *Table) PutGroup(ctx context.Context, g store.Group) error {
	return t.put(ctx, tenancyPK(g.Tenancy), skGroup+g.Name, g)
}

// GetGroup implements store.Groups.
func (t *Table) GetGroup(ctx context.Context, tenancy, name string) (store.Group, error) {
	var g store.Group
	return g, t.get(ctx, tenancyPK(tenancy), skGroup+name, &g)
}

// ListGroups implements store.Groups.
func (t *Table) ListGroups(ctx context.Context, tenancy string) ([]store.Group, error) {
	return listAll[store.Group](ctx, t, tenancyPK(tenancy), skGroup)
}

// DeleteGroup implements store.Groups.
func (t *Table) DeleteGroup(ctx context.Context, tenancy, name string) error {
	_, err := t.del(ctx, tenancyPK(tenancy), skGroup+name)
	return err
}

// PutToken implements store.Tokens.
func (t *Table) PutToken(ctx context.Context, tok store.AuthToken) error {
	return t.put(ctx, tenancyPK(tok.Tenancy), tokenSK(tok.User, tok.ID), tok)
}

// GetToken implements store.Tokens.
func (t *Table) GetToken(ctx context.Context, tenancy, user, id string) (store.AuthToken, error) {
	var tok store.AuthToken
	if err := t.get(ctx, tenancyPK(tenancy), tokenSK(user, id), &tok); err != nil {
		return store.AuthToken{}, err
	}
	if tok.User != user || tok.ID != id {
		return store.AuthToken{}, fmt.Errorf("token %s of %s: %w", id, user, store.ErrNotFound)
	}
	return tok, nil
}

// ListTokens implements store.Tokens.
func (t *Table) ListTokens(ctx context.Context, tenancy, user string) ([]store.AuthToken, error) {
	all, err := listAll[store.AuthToken](ctx, t, tenancyPK(tenancy), skToken+user+"#")
	if err != nil {
		return nil, err
	}
	out := all[:0]
	for _, tok := range all {
		if tok.User == user { // not another user whose name extends ours with '#'
			out = append(out, tok)
		}
	}
	return out, nil
}

// PutPolicy implements store.Policies; it carries an event.
func (t *Table) PutPolicy(ctx context.Context, p store.Policy) error {
	return t.putEv(ctx, tenancyPK(p.Tenancy), skPolicy+p.Name, p)
}

// GetPolicy implements store.Policies.
func (t *Table) GetPolicy(ctx context.Context, tenancy, name string) (store.Policy, error) {
	var p store.Policy
	return p, t.get(ctx, tenancyPK(tenancy), skPolicy+name, &p)
}

// ListPolicies implements store.Policies.
func (t *Table) ListPolicies(ctx context.Context, tenancy string) ([]store.Policy, error) {
	return listAll[store.Policy](ctx, t, tenancyPK(tenancy), skPolicy)
}

// DeletePolicy implements store.Policies; it carries an event.
func (t *Table) DeletePolicy(ctx context.Context, tenancy, name string) error {
	_, err := t.delEv(ctx, tenancyPK(tenancy), skPolicy+name)
	return err
}

// AppendAudit implements store.Audit; each tenancy's trail is its own
// partition, sorted by event id (which sorts by time).
func (t *Table) AppendAudit(ctx context.Context, e store.AuditEvent) error {
	return t.put(ctx, pkAuditPrefix+e.Tenancy, e.ID, e)
}

// ListAudit implements store.Audit: one Query, newest first.
func (t *Table) ListAudit(ctx context.Context, tenancy, before string, limit int) ([]store.AuditEvent, error) {
	if limit <= 0 {
		return nil, nil
	}
	in := &dynamodb.QueryInput{
		KeyConditionExpression:    aws.String("pk = :pk"),
		ExpressionAttributeValues: item{":pk": str(pkAuditPrefix + tenancy)},
		ScanIndexForward:          aws.Bool(false),
	}
	if before != "" {
		in.KeyConditionExpression = aws.String("pk = :pk AND sk < :before")
		in.ExpressionAttributeValues[":before"] = str(before)
	}
	var out []store.AuditEvent
	err := t.query(ctx, in, limit, func(it item) (bool, error) {
		var e store.AuditEvent
		if err := decode(it, &e); err != nil {
			return false, err
		}
		out = append(out, e)
		return len(out) < limit, nil
	})
	return out, err
}
