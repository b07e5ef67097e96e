// Package scrub re-hashes stored blobs against their digests: the check
// behind `berth blobs verify` and POST /api/blobs/verify
// (docs/storage.md, "Detect and heal"). A blob record whose object is
// missing, or holds bytes of another size or digest, is reported and
// quarantined: its record is condemned (never reused: the next verified
// upload of the digest replaces it, and garbage collection removes it
// and its object once nothing links it), and every repository link that
// names the bad object is removed (on that condition: a link a push of
// the verified bytes wrote meanwhile stays), so no pull is served those
// bytes and a pusher's existence check asks for the blob again.
//
// A scrub runs within one request's budget and says where to continue;
// the CLI repeats it until done.
package scrub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/content"
	"github.com/berth-registry/berth/shared/store"
)

// Objects is what a scrub reads of object storage.
type Objects interface {
	// OpenObject streams the object at key from offset on; ErrNotFound
	// if absent.
	OpenObject(ctx context.Context, key string, offset int64) (io.ReadCloser, error)
}

// Records is what a scrub reads and writes of metadata.
type Records interface {
	store.BlobCollector
	store.BlobRepairs
	store.Repositories
	store.Blobs
}

// Scrubber verifies stored blobs.
type Scrubber struct {
	rec  Records
	objs Objects
	log  *slog.Logger
	now  func() time.Time
}

// New returns a Scrubber over the stores.
func New(rec Records, objs Objects, log *slog.Logger) *Scrubber {
	if log == nil {
		log = slog.Default()
	}
	return &Scrubber{rec: rec, objs: objs, log: log, now: time.Now}
}

// Request is one scrub request.
type Request struct {
	// After continues a walk of every record in digest order after this
	// digest ("" from the start). Ignored with Sample.
	After digest.Digest `json:"after,omitempty"`
	// Sample, when set, checks that many records picked at random
	// instead of walking them in order.
	Sample int `json:"sample,omitempty"`
	// Deadline is when the scrub stops (the request's own budget).
	Deadline time.Time `json:"-"`
}

// Mismatch is a record whose object does not hold its digest's bytes.
type Mismatch struct {
	Digest  digest.Digest `json:"digest"`
	Key     string        `json:"key"`
	Size    int64         `json:"size"`
	Problem string        `json:"problem"`
	// Quarantined says the record is condemned now; Unlinked lists the
	// repositories whose link to the bad object was removed.
	Quarantined bool     `json:"quarantined"`
	Unlinked    []string `json:"unlinked,omitempty"`
}

// Report is what one scrub request did.
type Report struct {
	// Checked records, and the bytes read to check them.
	Checked int   `json:"checked"`
	Bytes   int64 `json:"bytes"`
	// Mismatches are the records whose objects did not match.
	Mismatches []Mismatch `json:"mismatches"`
	// Skipped are records too large to hash within one request.
	Skipped []digest.Digest `json:"skipped,omitempty"`
	// Done says a walk reached the last record; until then Next is
	// where the next request continues (Request.After).
	Done bool          `json:"done"`
	Next digest.Digest `json:"next,omitempty"`
}

// page is how many records a walk lists at a time.
const page = 100

// Verify checks records until the request's sample is done, the walk
// reaches the end, or the deadline passes.
func (s *Scrubber) Verify(ctx context.Context, req Request) (Report, error) {
	rep := Report{Mismatches: []Mismatch{}}
	if req.Sample > 0 {
		err := s.sample(ctx, req, &rep)
		rep.Done = s.now().Before(req.Deadline) // stopped for want of time, or not
		return rep, err
	}
	rep.Next = req.After
	for {
		bs, err := s.rec.ListBlobStates(ctx, rep.Next, page)
		if err != nil {
			return rep, err
		}
		for _, b := range bs {
			if !s.now().Before(req.Deadline) {
				return rep, nil
			}
			if err := s.check(ctx, b, req.Deadline, &rep); err != nil {
				return rep, err
			}
			rep.Next = b.Digest
		}
		if len(bs) < page {
			rep.Done, rep.Next = true, ""
			return rep, nil
		}
	}
}

// sample checks req.Sample records, each the first after a random
// digest (wrapping to the first record).
func (s *Scrubber) sample(ctx context.Context, req Request, rep *Report) error {
	seen := map[digest.Digest]bool{}
	for tries := 0; len(seen) < req.Sample && tries < 3*req.Sample && s.now().Before(req.Deadline); tries++ {
		var r [32]byte
		_, _ = rand.Read(r[:])
		bs, err := s.rec.ListBlobStates(ctx, digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(r[:])), 1)
		if err == nil && len(bs) == 0 {
			bs, err = s.rec.ListBlobStates(ctx, "", 1)
		}
		if err != nil {
			return err
		}
		if len(bs) == 0 {
			return nil // no records at all
		}
		if seen[bs[0].Digest] {
			continue
		}
		seen[bs[0].Digest] = true
		if err := s.check(ctx, bs[0], req.Deadline, rep); err != nil {
			return err
		}
	}
	return nil
}

// check hashes one record's object and quarantines it on a mismatch.
// Condemned records are skipped: garbage collection (or an earlier
// quarantine) is removing them.
func (s *Scrubber) check(ctx context.Context, b store.BlobState, deadline time.Time, rep *Report) error {
	if b.Condemned != "" {
		return nil
	}
	problem, n, err := s.hash(ctx, b.Blob, deadline)
	rep.Bytes += n
	switch {
	case errors.Is(err, errDeadline):
		rep.Skipped = append(rep.Skipped, b.Digest)
		return nil
	case err != nil:
		return err
	}
	rep.Checked++
	if problem == "" {
		return nil
	}
	m := Mismatch{Digest: b.Digest, Key: b.Key, Size: b.Size, Problem: problem}
	s.log.ErrorContext(ctx, "a blob record's object does not hold its digest's bytes; quarantining it",
		"digest", b.Digest.String(), "key", b.Key, "size", b.Size, "problem", problem)
	if err := s.quarantine(ctx, b.Blob, &m); err != nil {
		return err
	}
	rep.Mismatches = append(rep.Mismatches, m)
	return nil
}

var errDeadline = errors.New("the request's time ran out")

// hash reads the object of b and returns what is wrong with it ("" when
// nothing) and how many bytes it read.
func (s *Scrubber) hash(ctx context.Context, b store.Blob, deadline time.Time) (string, int64, error) {
	alg := b.Digest.Algorithm()
	if !alg.Available() {
		return "", 0, nil
	}
	rc, err := s.objs.OpenObject(ctx, b.Key, 0)
	if errors.Is(err, store.ErrNotFound) {
		return "the object is missing", 0, nil
	} else if err != nil {
		return "", 0, fmt.Errorf("open %s: %w", b.Key, err)
	}
	defer rc.Close()
	h := alg.Hash()
	buf := make([]byte, 1<<20)
	var n int64
	for {
		if !s.now().Before(deadline) {
			return "", n, errDeadline
		}
		k, err := rc.Read(buf)
		h.Write(buf[:k])
		n += int64(k)
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return "", n, fmt.Errorf("read %s: %w", b.Key, err)
		}
	}
	if n != b.Size {
		return fmt.Sprintf("the object has %d bytes, the record says %d", n, b.Size), n, nil
	}
	if got := digest.NewDigest(alg, h); got != b.Digest {
		return fmt.Sprintf("the object's bytes have digest %s", got), n, nil
	}
	return "", n, nil
}

// quarantine condemns the record (if it still names the bad object) and
// removes every link that names the object.
func (s *Scrubber) quarantine(ctx context.Context, b store.Blob, m *Mismatch) error {
	err := s.rec.QuarantineBlob(ctx, b, "quarantine-"+s.now().UTC().Format("20060102T150405Z"))
	switch {
	case errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound):
		m.Problem += " (the record changed meanwhile: not quarantined)"
		return nil
	case err != nil:
		return err
	}
	m.Quarantined = true
	return content.EachLink(ctx, s.rec, b.Digest, func(repo string, l store.Blob) error {
		if l.Key != b.Key {
			return nil
		}
		err := s.rec.UnlinkBlobIf(ctx, repo, b.Digest, b.Key)
		if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrNotFound) {
			return nil // relinked (to a verified copy) or removed meanwhile
		} else if err != nil {
			return err
		}
		m.Unlinked = append(m.Unlinked, repo)
		return nil
	})
}
