// Package s3store implements store.BlobStore on Amazon S3 (or anything
// that speaks its API: LocalStack, gofakes3): objects by key, multipart
// uploads that complete without a server-side copy, and presigned GET
// URLs that blob pulls are redirected to.
//
// The client is built by the caller (shared/backend), which turns on
// path-style addressing when an endpoint override is set, so emulators
// on 127.0.0.1 work.
package s3store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/berth-registry/berth/shared/store"
)

// MaxPresignTTL is the longest a SigV4 presigned URL can live (7 days).
const MaxPresignTTL = 7 * 24 * time.Hour

// UploadsPrefix is where the registry keeps upload tails; the bucket's
// lifecycle rule expires objects under it (see Store.ExpiresUploadTails).
const UploadsPrefix = "uploads/"

// Store is a store.BlobStore in one S3 bucket.
type Store struct {
	client  *s3.Client
	presign *s3.PresignClient
	bucket  string
}

var (
	_ store.BlobStore = (*Store)(nil)
	_ store.Mover     = (*Store)(nil)
)

// New returns a Store for bucket through client.
func New(client *s3.Client, bucket string) *Store {
	return &Store{client: client, presign: s3.NewPresignClient(client), bucket: bucket}
}

// Bucket returns the bucket's name.
func (s *Store) Bucket() string { return s.bucket }

// ExpiresUploadTails reports that the bucket expires objects under
// UploadsPrefix by itself (the stack's lifecycle rule, which Init also
// sets), so the registry need not spend a request per chunk deleting
// the tail a chunk replaced.
func (s *Store) ExpiresUploadTails() bool { return true }

// code returns an S3 error's code ("NoSuchKey", ...), or "".
func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// status returns the HTTP status of a failed call, or 0.
func status(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// notFound reports whether err says the object or upload does not exist
// (HEAD answers a bare 404 without a code).
func notFound(err error) bool {
	switch code(err) {
	case "NoSuchKey", "NotFound", "NoSuchUpload":
		return true
	}
	return status(err) == 404
}

// Put implements store.Objects.
func (s *Store) Put(ctx context.Context, key string, data []byte) error {
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: &s.bucket, Key: &key, Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
	})
	if err != nil {
		return fmt.Errorf("s3 put %s: %w", key, err)
	}
	return nil
}

// Move implements store.Mover: CopyObject (inside S3, up to 5 GB) then
// DeleteObject of the source. A failed delete is not the move's failure:
// the copy is complete, and the source (an upload tail) expires under
// UploadsPrefix's lifecycle rule.
func (s *Store) Move(ctx context.Context, from, to string) error {
	segs := strings.Split(from, "/")
	for i, seg := range segs {
		segs[i] = url.PathEscape(seg)
	}
	src := s.bucket + "/" + strings.Join(segs, "/") // URL-encoded, as S3 asks
	_, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &s.bucket, Key: &to, CopySource: &src})
	if notFound(err) {
		return fmt.Errorf("s3 object %s: %w", from, store.ErrNotFound)
	} else if err != nil {
		return fmt.Errorf("s3 copy %s to %s: %w", from, to, err)
	}
	_ = s.Delete(ctx, from)
	return nil
}

// Get implements store.Objects.
func (s *Store) Get(ctx context.Context, key string) ([]byte, error) {
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key}, func(o *s3.Options) { o.DisableLogOutputChecksumValidationSkipped = true })
	if notFound(err) {
		return nil, fmt.Errorf("s3 object %s: %w", key, store.ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("s3 get %s: %w", key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		return nil, fmt.Errorf("s3 get %s: %w", key, err)
	}
	return b, nil
}

// Stat implements store.Objects.
func (s *Store) Stat(ctx context.Context, key string) (int64, error) {
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &s.bucket, Key: &key})
	if notFound(err) {
		return 0, fmt.Errorf("s3 object %s: %w", key, store.ErrNotFound)
	} else if err != nil {
		return 0, fmt.Errorf("s3 head %s: %w", key, err)
	}
	return aws.ToInt64(out.ContentLength), nil
}

// Delete implements store.Objects; S3 answers a delete of a missing key
// with success too.
func (s *Store) Delete(ctx context.Context, key string) error {
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &s.bucket, Key: &key})
	if err != nil && !notFound(err) {
		return fmt.Errorf("s3 delete %s: %w", key, err)
	}
	return nil
}

// PresignGet implements store.Objects with a SigV4 presigned GET URL
// (computed locally: no request to S3). ttl must be in (0, 7 days].
func (s *Store) PresignGet(ctx context.Context, key string, ttl time.Duration) (string, error) {
	if ttl <= 0 || ttl > MaxPresignTTL {
		return "", fmt.Errorf("presign %s: expiry %v is outside (0, %v]", key, ttl, MaxPresignTTL)
	}
	req, err := s.presign.PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &s.bucket, Key: &key}, s3.WithPresignExpires(ttl))
	if err != nil {
		return "", fmt.Errorf("presign %s: %w", key, err)
	}
	return req.URL, nil
}
