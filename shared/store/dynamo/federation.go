package dynamo

import (
	"context"

	"github.com/berth-registry/berth/shared/store"
)

// skFederation prefixes a federation rule's sort key in its tenancy's
// partition, so a tenancy's rules are one Query.
const skFederation = "F#"

// PutFederationRule implements store.FederationRules.
func (t *Table) PutFederationRule(ctx context.Context, r store.FederationRule) error {
	return t.put(ctx, tenancyPK(r.Tenancy), skFederation+r.Name, r)
}

// GetFederationRule implements store.FederationRules.
func (t *Table) GetFederationRule(ctx context.Context, tenancy, name string) (store.FederationRule, error) {
	var r store.FederationRule
	return r, t.get(ctx, tenancyPK(tenancy), skFederation+name, &r)
}

// ListFederationRules implements store.FederationRules.
func (t *Table) ListFederationRules(ctx context.Context, tenancy string) ([]store.FederationRule, error) {
	return listAll[store.FederationRule](ctx, t, tenancyPK(tenancy), skFederation)
}

// DeleteFederationRule implements store.FederationRules.
func (t *Table) DeleteFederationRule(ctx context.Context, tenancy, name string) error {
	_, err := t.del(ctx, tenancyPK(tenancy), skFederation+name)
	return err
}
