// Package backend opens the aws backend — the DynamoDB table and the S3
// bucket a configuration names — as the Lambda functions and the local
// gateway use it. It links no embedded store: the functions deploy with
// this package alone; the local composition (shared/inprocess) opens
// the embedded backend beside it.
package backend

import (
	"net/http"
	"time"

	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/s3store"
)

// Metadata is the one table (or file) behind every metadata interface
// the functions use: content (store.Metadata), retention's state, blob
// touches included (store.Retention), and stored bytes and quotas
// (store.UsageStore). Both of Berth's stores implement it.
type Metadata interface {
	store.Metadata
	store.Retention
	store.UsageStore
	// SetClock replaces the clock that stamps blob links, touches and
	// upload expiry (shared/clock: one clock per process).
	SetClock(now func() time.Time)
}

// Stores are the opened metadata and blob stores.
type Stores struct {
	Meta  Metadata
	Blobs store.BlobStore
	// IDs holds tenancies, users, groups, tokens, policies and the audit
	// trail (the same table as Meta).
	IDs store.Identity
	// Objects serves the signed URLs the embedded store's PresignGet
	// makes, under ObjectPrefix (the local gateway's stand-in for S3);
	// nil on the aws backend.
	Objects      http.Handler
	ObjectPrefix string
	// S3 is the aws backend's blob store (Blobs, as itself), for
	// SweepUploads; nil for the embedded backend.
	S3 *s3store.Store
	// Calls counts the aws backend's requests to DynamoDB and S3; nil
	// for the embedded backend.
	Calls *Calls
	// Close releases the stores (nil: nothing to release).
	Closer func() error
}

// Close releases the stores.
func (s *Stores) Close() error {
	if s.Closer == nil {
		return nil
	}
	return s.Closer()
}
