package retention

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/metrics"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/usage"
)

// Collection is what one garbage collection did.
type Collection struct {
	Marker       string    `json:"marker"`
	Cutoff       time.Time `json:"cutoff,omitzero"`
	Repositories int       `json:"repositories"`
	// Links are the unreferenced, untouched blob links removed.
	Links int `json:"links"`
	// Blobs are the blob records (and objects) removed.
	Blobs int   `json:"blobs"`
	Bytes int64 `json:"bytes"`
	// Seen are blob records seen for the first time: they become
	// collectable one grace period later.
	Seen int `json:"seen"`
}

// Collect is Berth's blob garbage collector: mark-and-sweep with
// markers, every write a single-item conditional one, no lock.
//
// Mark: per repository, the blobs its manifests and its binned images
// reference. Sweep links: a link that nothing references and that was
// not touched since the cutoff (now - Grace) is deleted on that
// condition, so a push that touched it meanwhile (HEAD, mount, manifest
// push) keeps it. Sweep records: every new record is stamped when first
// seen (on the store's clock); one that no surviving link names is
// condemned on the condition that no one touched it since the cutoff; a
// condemned record is
// never reused (a commit replaces it with its own bytes instead), so its
// object can go, then the record. A crash between two steps leaves a
// condemned record, which the next collection finishes.
//
// Why this is safe against a concurrent push: a link can only appear
// (a) by commit, which touches or replaces the record first, or (b) by
// mount, which touches the source link first, and a manifest push
// re-touches every blob link after storing the manifest (the registry
// rolls the push back if one is gone). With Grace longer than any one
// request, every such touch postdates the cutoff of any collection
// that could act on it.
func (s *Service) Collect(ctx context.Context, now time.Time) (Collection, error) {
	c := Collection{Marker: "gc-" + newRunID(now), Cutoff: now.Add(-s.cfg.Grace)}
	linked := map[digest.Digest]bool{}
	tally := usage.NewTally()
	for after := ""; ; {
		names, err := s.st.Meta.ListRepositories(ctx, after, page)
		if err != nil {
			return c, err
		}
		for _, repo := range names {
			tally.Repository(repo)
			if err := s.sweepLinks(ctx, repo, &c, linked, tally); err != nil {
				return c, fmt.Errorf("sweep %s: %w", repo, err)
			}
			c.Repositories++
		}
		if len(names) < page {
			break
		}
		after = names[len(names)-1]
	}
	for after := digest.Digest(""); ; {
		bs, err := s.st.Ret.ListBlobStates(ctx, after, page)
		if err != nil {
			return c, err
		}
		for _, b := range bs {
			if err := s.sweepBlob(ctx, b, &c, linked); err != nil {
				return c, fmt.Errorf("sweep blob %s: %w", b.Digest, err)
			}
		}
		if len(bs) < page {
			break
		}
		after = bs[len(bs)-1].Digest
	}
	s.metrics.Count(metrics.GCBytesFreed, float64(c.Bytes))
	if err := s.recordUsage(ctx, tally.Usage(now)); err != nil {
		return c, err
	}
	s.log.InfoContext(ctx, "garbage collected", "marker", c.Marker, "repositories", c.Repositories,
		"links", c.Links, "blobs", c.Blobs, "bytes", c.Bytes, "seen", c.Seen)
	return c, nil
}

// recordUsage stores what the mark pass counted, and logs each
// tenancy's stored bytes as a metric.
func (s *Service) recordUsage(ctx context.Context, us []store.Usage) error {
	for _, u := range us {
		if u.Kind == store.UsageTenancy {
			s.metrics.Count(metrics.StoredBytes, float64(u.Bytes), u.Tenancy)
		}
		if s.st.Usage == nil {
			continue
		}
		if err := s.st.Usage.PutUsage(ctx, u); err != nil {
			return fmt.Errorf("record usage of %s: %w", u.Name, err)
		}
	}
	return nil
}

// sweepLinks deletes a repository's stale unreferenced links and adds
// the blobs of the others to linked, and to the usage tally.
func (s *Service) sweepLinks(ctx context.Context, repo string, c *Collection, linked map[digest.Digest]bool, tally *usage.Tally) error {
	refs := map[digest.Digest]bool{}
	for after := digest.Digest(""); ; {
		ms, err := s.st.Meta.ListManifests(ctx, repo, after, page)
		if err != nil {
			return err
		}
		for _, m := range ms {
			for _, r := range m.Refs {
				refs[r] = true
			}
		}
		if len(ms) < page {
			break
		}
		after = ms[len(ms)-1].Digest
	}
	for after := digest.Digest(""); ; {
		bs, err := s.st.Ret.ListBinned(ctx, repo, after, page)
		if err != nil {
			return err
		}
		for _, b := range bs {
			for _, r := range b.Manifest.Refs {
				refs[r] = true
			}
		}
		if len(bs) < page {
			break
		}
		after = bs[len(bs)-1].Manifest.Digest
	}
	for after := digest.Digest(""); ; {
		ls, err := s.st.Ret.ListLinkStates(ctx, repo, after, page)
		if err != nil {
			return err
		}
		for _, l := range ls {
			if refs[l.Digest] || !l.Touched.Before(c.Cutoff) {
				linked[l.Digest] = true
				tally.Link(repo, l.Digest, l.Size)
				continue
			}
			switch err := s.st.Ret.DeleteStaleLink(ctx, repo, l.Digest, c.Cutoff); {
			case err == nil:
				c.Links++
			case errors.Is(err, store.ErrConflict):
				linked[l.Digest] = true // touched meanwhile: in use
				tally.Link(repo, l.Digest, l.Size)
			case !errors.Is(err, store.ErrNotFound):
				return err
			}
		}
		if len(ls) < page {
			return nil
		}
		after = ls[len(ls)-1].Digest
	}
}

// sweepBlob stamps, condemns or finishes one blob record that no link
// names.
func (s *Service) sweepBlob(ctx context.Context, b store.BlobState, c *Collection, linked map[digest.Digest]bool) error {
	if b.Touched.IsZero() && b.Condemned == "" {
		// First sighting (of every new record, linked or not): the
		// stamp is on the store's clock, which touches use, whatever
		// clock the commit that created the record read.
		_, err := s.st.Ret.TouchBlob(ctx, b.Digest)
		if err == nil {
			c.Seen++
		}
		return ignore(err, store.ErrNotFound, store.ErrConflict)
	}
	if linked[b.Digest] {
		return nil
	}
	marker := b.Condemned
	if marker == "" {
		err := s.st.Ret.CondemnBlob(ctx, b.Digest, c.Marker, c.Cutoff)
		if err != nil {
			return ignore(err, store.ErrNotFound, store.ErrConflict)
		}
		// The record condemned is the one listed: any write that
		// replaces a record touches it, so a replaced record fails the
		// condemn's cutoff. Delete the listed key, never one read now:
		// a commit may have replaced the condemned record with its own
		// object since (ReplaceCondemnedBlob), and that object stays.
		marker = c.Marker
	}
	// A marker set already is a collection's that stopped (or runs)
	// before finishing: nothing can link the record any more, so finish
	// it. Object first, record second: a crash in between leaves a condemned
	// record that the next collection finishes; the other order would
	// leave an object nothing names.
	if err := s.st.Blobs.Delete(ctx, b.Key); err != nil {
		return err
	}
	if err := s.st.Ret.DeleteCondemnedBlob(ctx, b.Digest, marker); err != nil {
		return ignore(err, store.ErrNotFound, store.ErrConflict)
	}
	c.Blobs++
	c.Bytes += b.Size
	return nil
}

// ignore returns nil when err is one of the expected outcomes.
func ignore(err error, expected ...error) error {
	for _, e := range expected {
		if errors.Is(err, e) {
			return nil
		}
	}
	return err
}
