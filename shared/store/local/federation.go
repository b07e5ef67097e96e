package local

import (
	"context"

	"github.com/berth-registry/berth/shared/store"
)

// bucketFederation holds federation rules under <tenancy>\0<name>.
var bucketFederation = []byte("federation")

// PutFederationRule implements store.FederationRules.
func (m *Metadata) PutFederationRule(_ context.Context, r store.FederationRule) error {
	return m.putRecord(bucketFederation, key(r.Tenancy, r.Name), r)
}

// GetFederationRule implements store.FederationRules.
func (m *Metadata) GetFederationRule(_ context.Context, tenancy, name string) (store.FederationRule, error) {
	var r store.FederationRule
	return r, m.getRecord(bucketFederation, key(tenancy, name), &r)
}

// ListFederationRules implements store.FederationRules.
func (m *Metadata) ListFederationRules(_ context.Context, tenancy string) ([]store.FederationRule, error) {
	return list[store.FederationRule](m, bucketFederation, prefix(tenancy))
}

// DeleteFederationRule implements store.FederationRules.
func (m *Metadata) DeleteFederationRule(_ context.Context, tenancy, name string) error {
	return m.delRecord(bucketFederation, key(tenancy, name))
}
