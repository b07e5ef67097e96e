package backend

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/s3store"
)

// SweepGrace is how old a multipart upload or upload tail must be before
// SweepUploads may remove it: far longer than any request (API
// Gateway's 30 s), so a PATCH that has written a part or tail but not
// yet saved its session never loses it.
const SweepGrace = 15 * time.Minute

// Upload object layout (shared/registry): a session's blob is written
// at blobsPrefix+<id> (multipart while in progress) and its buffered
// tails at s3store.UploadsPrefix+<id>/....
const blobsPrefix = "blobs/"

// SweepUploads removes what upload sessions left in S3: multipart
// uploads and tails older than SweepGrace (as of now) whose session is
// gone or expired, and those a live session no longer points at (a
// superseded tail, or the parts of a request that lost a race). It
// returns how many it removed. The bucket's lifecycle rules do the same
// within days; this does it at once (meant for the hourly retention job;
// emulators have no lifecycle). The embedded backend removes its
// upload state as it goes: there, it does nothing.
func (s *Stores) SweepUploads(ctx context.Context, now time.Time) (int, error) {
	if s.S3 == nil {
		return 0, nil
	}
	keep := func(ctx context.Context, p s3store.Pending) (bool, error) {
		id, ok := sessionOf(p)
		if !ok {
			return true, nil // not an upload's: not ours to remove
		}
		u, err := s.Meta.GetUpload(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			return false, nil
		} else if err != nil {
			return true, err
		}
		if u.Expires.Before(now) {
			return false, nil
		}
		if p.UploadID != "" {
			return u.MultipartID == p.UploadID, nil
		}
		return u.TailKey == p.Key, nil
	}
	return s.S3.Sweep(ctx, blobsPrefix, s3store.UploadsPrefix, now.Add(-SweepGrace), keep)
}

// sessionOf returns the upload session id an object or multipart upload
// belongs to.
func sessionOf(p s3store.Pending) (string, bool) {
	if p.UploadID != "" {
		id, ok := strings.CutPrefix(p.Key, blobsPrefix)
		return id, ok && id != "" && !strings.Contains(id, "/")
	}
	rest, ok := strings.CutPrefix(p.Key, s3store.UploadsPrefix)
	id, _, found := strings.Cut(rest, "/")
	return id, ok && found && id != ""
}
