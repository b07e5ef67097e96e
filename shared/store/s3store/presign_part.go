package s3store

// Direct uploads (docs/direct-uploads.md) on S3: presigned UploadPart
// URLs that clients PUT parts to, and the streaming read that verifies
// an assembled object's digest.

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/berth-registry/berth/shared/store"
)

// PresignUploadPart returns a SigV4 presigned URL for PUTting part n of
// multipart upload uploadID at key (computed locally: no request to S3).
// Only the host is signed, so the client sends the part with any
// Content-Length and reads the part's ETag from the response. ttl must
// be in (0, 7 days].
func (s *Store) PresignUploadPart(ctx context.Context, key, uploadID string, n int, ttl time.Duration) (string, error) {
	if ttl <= 0 || ttl > MaxPresignTTL {
		return "", fmt.Errorf("presign part of %s: expiry %v is outside (0, %v]", key, ttl, MaxPresignTTL)
	}
	if n < 1 || n > 10000 {
		return "", fmt.Errorf("part number %d out of range 1..10000", n)
	}
	req, err := s.presign.PresignUploadPart(ctx, &s3.UploadPartInput{
		Bucket: &s.bucket, Key: &key, UploadId: &uploadID, PartNumber: aws.Int32(int32(n)),
	}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("presign part %d of %s: %w", n, key, err)
	}
	return req.URL, nil
}

// OpenObject streams the object at key from byte offset on (one ranged
// GET).
func (s *Store) OpenObject(ctx context.Context, key string, offset int64) (io.ReadCloser, error) {
	in := &s3.GetObjectInput{Bucket: &s.bucket, Key: &key}
	if offset > 0 {
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	// A ranged read has no whole-object checksum to check; say nothing
	// about skipping it (the registry verifies the digest itself).
	out, err := s.client.GetObject(ctx, in, func(o *s3.Options) { o.DisableLogOutputChecksumValidationSkipped = true })
	if notFound(err) {
		return nil, fmt.Errorf("s3 object %s: %w", key, store.ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("s3 get %s from %d: %w", key, offset, err)
	}
	return out.Body, nil
}
