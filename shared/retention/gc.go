package retention

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/content"
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
	// Repointed are the links moved onto their record's object: links
	// that still named an object a heal replaced (docs/storage.md,
	// "Detect and heal").
	Repointed int `json:"repointed"`
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
//
// Repair: a link whose key is not its record's (made before a heal
// replaced the record, by a mount or commit racing the heal, or left by
// a heal that stopped before it had repointed every repository) is
// moved onto the record's object, each on the condition that the link
// is unchanged. Collection deletes only the objects of condemned
// records, and a record is condemned only when no link names its
// digest, so no repair can leave a link naming a deleted object.
func (s *Service) Collect(ctx context.Context, now time.Time) (Collection, error) {
	c := Collection{Marker: "gc-" + newRunID(now), Cutoff: now.Add(-s.cfg.Grace)}
	linked := map[digest.Digest]string{}
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
		"links", c.Links, "blobs", c.Blobs, "bytes", c.Bytes, "seen", c.Seen, "repointed", c.Repointed)
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

// mixedKeys is linked's value for a digest whose links name different
// objects.
const mixedKeys = "\x00mixed"

// keep adds a surviving link to linked: the key its links name, or
// mixedKeys.
func keep(linked map[digest.Digest]string, l store.Blob) {
	if k, ok := linked[l.Digest]; !ok {
		linked[l.Digest] = l.Key
	} else if k != l.Key {
		linked[l.Digest] = mixedKeys
	}
}

// sweepLinks deletes a repository's stale unreferenced links and adds
// the blobs of the others to linked, and to the usage tally.
func (s *Service) sweepLinks(ctx context.Context, repo string, c *Collection, linked map[digest.Digest]string, tally *usage.Tally) error {
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
				keep(linked, l.Blob)
				tally.Link(repo, l.Digest, l.Size)
				continue
			}
			switch err := s.st.Ret.DeleteStaleLink(ctx, repo, l.Digest, c.Cutoff); {
			case err == nil:
				c.Links++
			case errors.Is(err, store.ErrConflict):
				keep(linked, l.Blob) // touched meanwhile: in use
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
// names, and repoints the links of one that some link names under
// another key.
func (s *Service) sweepBlob(ctx context.Context, b store.BlobState, c *Collection, linked map[digest.Digest]string) error {
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
	if k, ok := linked[b.Digest]; ok {
		if k != b.Key && b.Condemned == "" {
			return s.repoint(ctx, b.Blob, c)
		}
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

// repoint moves the links of b's digest that name another object onto
// b's, if b is still the digest's record.
func (s *Service) repoint(ctx context.Context, b store.Blob, c *Collection) error {
	if cur, err := s.st.Meta.GetBlob(ctx, b.Digest); err != nil || cur.Key != b.Key {
		return ignore(err, store.ErrNotFound) // replaced since it was listed: the next collection looks again
	}
	moved, err := content.Repoint(ctx, s.st.Meta, b)
	c.Repointed += len(moved)
	if len(moved) > 0 {
		s.log.WarnContext(ctx, "links named an object their blob record no longer names; repointed",
			"digest", b.Digest.String(), "key", b.Key, "repositories", moved)
	}
	return err
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
