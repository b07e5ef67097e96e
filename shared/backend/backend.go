// Package backend opens the storage a configuration names.
package backend

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/local"
	"github.com/berth-registry/berth/shared/store/s3store"
)

// Stores are the opened metadata and blob stores.
type Stores struct {
	Meta  store.Metadata
	Blobs store.BlobStore
	// IDs holds tenancies, users, groups, tokens, policies and the audit
	// trail (the same table as Meta).
	IDs store.Identity
	// Objects is set for the embedded backend: it serves the signed
	// URLs its PresignGet makes.
	Objects *local.Objects
	// S3 is the aws backend's blob store (Blobs, as itself), for
	// SweepUploads; nil for the embedded backend.
	S3 *s3store.Store
	// Calls counts the aws backend's requests to DynamoDB and S3; nil
	// for the embedded backend.
	Calls *Calls
	close func() error
}

// Close releases the stores.
func (s *Stores) Close() error {
	if s.close == nil {
		return nil
	}
	return s.close()
}

// Open opens the stores of cfg.Backend: "embedded" (bbolt and files
// under cfg.Data) or "aws" (DynamoDB table cfg.Table and S3 bucket
// cfg.Bucket, created when cfg.Init is set).
func Open(ctx context.Context, cfg config.Config) (*Stores, error) {
	switch cfg.Backend {
	case "embedded":
		if err := os.MkdirAll(cfg.Data, 0o700); err != nil {
			return nil, fmt.Errorf("create data dir: %w", err)
		}
		meta, err := local.OpenMetadata(filepath.Join(cfg.Data, "metadata.db"))
		if err != nil {
			return nil, err
		}
		objs, err := local.OpenObjects(filepath.Join(cfg.Data, "blobs"))
		if err != nil {
			meta.Close()
			return nil, err
		}
		return &Stores{Meta: meta, Blobs: objs, IDs: meta, Objects: objs, close: meta.Close}, nil
	case "aws":
		return openAWS(ctx, cfg)
	}
	return nil, fmt.Errorf("unknown backend %q", cfg.Backend)
}
