package s3store

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/berth-registry/berth/shared/store"
)

// CreateMultipart implements store.Multipart.
func (s *Store) CreateMultipart(ctx context.Context, key string) (string, error) {
	out, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &s.bucket, Key: &key})
	if err != nil {
		return "", fmt.Errorf("s3 create multipart %s: %w", key, err)
	}
	return aws.ToString(out.UploadId), nil
}

// UploadPart implements store.Multipart.
func (s *Store) UploadPart(ctx context.Context, key, uploadID string, n int, data []byte) (string, error) {
	if n < 1 || n > 10000 {
		return "", fmt.Errorf("part number %d out of range 1..10000", n)
	}
	out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: &s.bucket, Key: &key, UploadId: &uploadID, PartNumber: aws.Int32(int32(n)),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
	})
	if notFound(err) {
		return "", fmt.Errorf("s3 multipart upload %s: %w", uploadID, store.ErrNotFound)
	} else if err != nil {
		return "", fmt.Errorf("s3 upload part %d of %s: %w", n, key, err)
	}
	return aws.ToString(out.ETag), nil
}

// CompleteMultipart implements store.Multipart. The part rules are
// checked here as well as by S3 (ascending numbers, every part but the
// last at least store.MinPartSize), so that an emulator that skips them
// still fails what S3 would. A part whose ETag does not match what was
// stored (S3: InvalidPart) is store.ErrConflict.
func (s *Store) CompleteMultipart(ctx context.Context, key, uploadID string, parts []store.Part) error {
	if len(parts) == 0 {
		return fmt.Errorf("complete %s: no parts", key)
	}
	done := make([]types.CompletedPart, len(parts))
	prev := 0
	for i, p := range parts {
		if p.Number <= prev {
			return fmt.Errorf("complete %s: parts must be in ascending order", key)
		}
		prev = p.Number
		if i < len(parts)-1 && p.Size < store.MinPartSize {
			return fmt.Errorf("complete %s: part %d is %d bytes, under the minimum part size", key, p.Number, p.Size)
		}
		done[i] = types.CompletedPart{PartNumber: aws.Int32(int32(p.Number)), ETag: aws.String(p.ETag)}
	}
	_, err := s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: &s.bucket, Key: &key, UploadId: &uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: done},
	})
	switch {
	case err == nil:
		return nil
	case code(err) == "InvalidPart":
		return fmt.Errorf("complete %s: a part is missing or changed: %w", key, store.ErrConflict)
	case notFound(err):
		return fmt.Errorf("s3 multipart upload %s: %w", uploadID, store.ErrNotFound)
	}
	return fmt.Errorf("s3 complete %s: %w", key, err)
}

// AbortMultipart implements store.Multipart. Aborting an upload that no
// longer exists (aborted, or completed) succeeds, as with the embedded
// store.
func (s *Store) AbortMultipart(ctx context.Context, key, uploadID string) error {
	_, err := s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &s.bucket, Key: &key, UploadId: &uploadID})
	if err != nil && !notFound(err) {
		return fmt.Errorf("s3 abort %s: %w", key, err)
	}
	return nil
}

// Pending is a multipart upload that was begun and neither completed
// nor aborted, or an object under a prefix.
type Pending struct {
	Key      string
	UploadID string // empty for an object
	// Since is when the upload was begun or the object last written.
	Since time.Time
}

// Multiparts lists the multipart uploads in progress under prefix.
func (s *Store) Multiparts(ctx context.Context, prefix string) ([]Pending, error) {
	var out []Pending
	in := &s3.ListMultipartUploadsInput{Bucket: &s.bucket, Prefix: &prefix}
	for {
		page, err := s.client.ListMultipartUploads(ctx, in)
		if code(err) == "NoSuchUpload" {
			// gofakes3 answers so for a bucket that never had one.
			return out, nil
		} else if err != nil {
			return nil, fmt.Errorf("s3 list multipart uploads: %w", err)
		}
		for _, u := range page.Uploads {
			out = append(out, Pending{Key: aws.ToString(u.Key), UploadID: aws.ToString(u.UploadId), Since: aws.ToTime(u.Initiated)})
		}
		if !aws.ToBool(page.IsTruncated) {
			return out, nil
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
}

// Objects lists the objects under prefix.
func (s *Store) Objects(ctx context.Context, prefix string) ([]Pending, error) {
	var out []Pending
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{Bucket: &s.bucket, Prefix: &prefix})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("s3 list %s: %w", prefix, err)
		}
		for _, o := range page.Contents {
			out = append(out, Pending{Key: aws.ToString(o.Key), Since: aws.ToTime(o.LastModified)})
		}
	}
	return out, nil
}

// Sweep aborts the multipart uploads under multipartPrefix and deletes
// the objects under objectPrefix that are older than before and that
// keep does not claim. It returns how many it removed; it goes on past
// one failure and returns the first.
func (s *Store) Sweep(ctx context.Context, multipartPrefix, objectPrefix string, before time.Time, keep func(context.Context, Pending) (bool, error)) (int, error) {
	ups, err := s.Multiparts(ctx, multipartPrefix)
	if err != nil {
		return 0, err
	}
	objs, err := s.Objects(ctx, objectPrefix)
	if err != nil {
		return 0, err
	}
	removed := 0
	var first error
	for _, p := range append(ups, objs...) {
		if !p.Since.Before(before) {
			continue
		}
		k, err := keep(ctx, p)
		if err == nil && !k {
			if p.UploadID != "" {
				err = s.AbortMultipart(ctx, p.Key, p.UploadID)
			} else {
				err = s.Delete(ctx, p.Key)
			}
			if err == nil {
				removed++
			}
		}
		if err != nil && first == nil {
			first = err
		}
	}
	return removed, first
}
