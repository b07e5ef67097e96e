package retention

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/events"
	"github.com/berth-registry/berth/shared/store"
)

// apply moves the images of a plan's Delete to the recycle bin, then
// puts back any that a concurrent push tagged or referenced meanwhile
// (validate after the write: no lock stops pushes). It returns how many
// it put back. ctx names the run as the actor (events.ByRun).
func (s *Service) apply(ctx context.Context, run store.RetentionRun, policy string, data repoData, deletes []Verdict) (int, error) {
	repo := data.repo
	gone := map[digest.Digest]bool{}
	for _, v := range deletes {
		man, err := s.st.Meta.GetManifest(ctx, repo, v.Digest)
		if errors.Is(err, store.ErrNotFound) {
			continue // deleted meanwhile (a retried job, or a client)
		} else if err != nil {
			return 0, err
		}
		b := store.BinnedImage{Tenancy: run.Tenancy, RunID: run.ID, Manifest: man, Tags: data.tags[v.Digest],
			Deleted: run.AsOf, Expires: run.AsOf.Add(s.cfg.BinTTL), Reason: v.Criterion + ": " + v.Reason}
		if err := s.st.Ret.PutBinned(ctx, b); err != nil {
			return 0, fmt.Errorf("bin %s: %w", v.Digest, err)
		}
		for _, t := range b.Tags {
			// A tag a push moved elsewhere meanwhile stays where it is.
			if err := s.st.Ret.DeleteTagIf(ctx, repo, t.Name, v.Digest); err != nil && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
				return 0, err
			}
		}
		var names []string
		for _, t := range b.Tags {
			names = append(names, t.Name)
		}
		ev := events.New(ctx, s.Now(), events.ImageDeleted, run.Tenancy, repo, events.ImageDeletedData{Digest: v.Digest,
			MediaType: man.MediaType, Tags: names, Policy: policy, Reason: b.Reason, RestorableUntil: b.Expires})
		if err := s.st.Meta.DeleteManifest(events.With(ctx, ev), repo, v.Digest); err != nil && !errors.Is(err, store.ErrNotFound) {
			return 0, err
		}
		gone[v.Digest] = true
	}
	if len(gone) == 0 {
		return 0, nil
	}
	back, err := s.wanted(ctx, repo, gone)
	if err != nil {
		return 0, err
	}
	n := 0
	var ds []store.Decision
	for _, d := range back {
		k, err := s.restore(ctx, repo, d, run.ID, 0)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return n, err
		}
		n += k
		ds = append(ds, store.Decision{Tenancy: run.Tenancy, RunID: run.ID, Repo: repo, Digest: d, Action: store.ActionKeep,
			Criterion: "push", Reason: "a push tagged or referenced it while the run deleted it, so it was put back", Time: run.AsOf})
	}
	return n, s.putDecisions(ctx, ds)
}

// wanted lists the deleted images that a tag or a stored manifest now
// points at.
func (s *Service) wanted(ctx context.Context, repo string, gone map[digest.Digest]bool) ([]digest.Digest, error) {
	want := map[digest.Digest]bool{}
	data, err := s.load(ctx, repo)
	if err != nil {
		return nil, err
	}
	for d := range data.tags {
		if gone[d] {
			want[d] = true
		}
	}
	for _, img := range data.images {
		for _, r := range img.Manifest.Refs {
			if gone[r] {
				want[r] = true
			}
		}
	}
	var out []digest.Digest
	for d := range want {
		out = append(out, d)
	}
	return out, nil
}

// Restore puts one binned image back, with the children and referrers
// that were binned with it, and returns how many images came back.
func (s *Service) Restore(ctx context.Context, repo string, d digest.Digest) (int, error) {
	return s.restore(ctx, repo, d, "", 0)
}

// RestoreRun puts back every image a run deleted that is still in the
// bin from that run.
func (s *Service) RestoreRun(ctx context.Context, tenancy, runID string) (int, error) {
	n := 0
	for after := ""; ; {
		ds, err := s.st.Ret.ListDecisions(ctx, tenancy, runID, after, page)
		if err != nil {
			return n, err
		}
		for _, d := range ds {
			if d.Action != store.ActionDelete {
				continue
			}
			k, err := s.restore(ctx, d.Repo, d.Digest, runID, 0)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return n, err
			}
			n += k
		}
		if len(ds) < page {
			return n, nil
		}
		after = store.DecisionCursor(ds[len(ds)-1])
	}
}

// restore puts back a binned image (from run runID, when set): children
// first, then the image and its tags (those no push has taken since),
// then its binned referrers. ErrNotFound: not in the bin.
func (s *Service) restore(ctx context.Context, repo string, d digest.Digest, runID string, depth int) (int, error) {
	b, err := s.st.Ret.GetBinned(ctx, repo, d)
	if err != nil {
		return 0, err
	}
	if (runID != "" && b.RunID != runID) || depth > 16 {
		return 0, store.ErrNotFound
	}
	n := 0
	for _, r := range b.Manifest.Refs {
		if r == d {
			continue
		}
		k, err := s.restore(ctx, repo, r, b.RunID, depth+1)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return n, err
		}
		n += k
	}
	var names []string
	for _, t := range b.Tags {
		names = append(names, t.Name)
	}
	ev := events.New(ctx, s.Now(), events.ImageRestored, b.Tenancy, repo, events.ImageRestoredData{Digest: d,
		MediaType: b.Manifest.MediaType, Tags: names, DeletedBy: b.RunID})
	if err := s.st.Meta.PutManifest(events.With(ctx, ev), b.Manifest); err != nil {
		return n, err
	}
	// Touch what the image references before its bin entry goes: a
	// collection that listed the repository's manifests before the put
	// and its bin after the delete must still find the links in use.
	for _, r := range b.Manifest.Refs {
		if _, err := s.st.Ret.TouchLink(ctx, repo, r); err != nil && !errors.Is(err, store.ErrNotFound) {
			return n, err
		}
	}
	for _, t := range b.Tags {
		// Only tags no push has taken since: one conditional write each.
		if err := s.st.Meta.CreateTag(ctx, t); err != nil && !errors.Is(err, store.ErrExists) {
			return n, err
		}
	}
	st, err := s.st.Ret.GetImageStats(ctx, repo, d)
	if err != nil {
		return n, err
	}
	// A restored image counts as pushed now: the next run must not
	// delete it again at once.
	mk := st.ImageMarks
	mk.Restored, mk.Notice = s.Now(), nil
	if err := s.st.Ret.MarkImages(ctx, repo, []store.ImageMark{{Digest: d, ImageMarks: mk}}); err != nil {
		return n, err
	}
	if err := s.st.Ret.DeleteBinned(ctx, repo, d); err != nil && !errors.Is(err, store.ErrNotFound) {
		return n, err
	}
	n++
	for after := digest.Digest(""); ; {
		bs, err := s.st.Ret.ListBinned(ctx, repo, after, page)
		if err != nil {
			return n, err
		}
		for _, x := range bs {
			if x.Manifest.Subject == d && x.RunID == b.RunID {
				k, err := s.restore(ctx, repo, x.Manifest.Digest, b.RunID, depth+1)
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return n, err
				}
				n += k
			}
		}
		if len(bs) < page {
			return n, nil
		}
		after = bs[len(bs)-1].Manifest.Digest
	}
}

// purge empties a repository's expired bin entries (and the statistics
// of images that did not come back some other way).
func (s *Service) purge(ctx context.Context, repo string, now time.Time) (int, error) {
	n := 0
	for after := digest.Digest(""); ; {
		bs, err := s.st.Ret.ListBinned(ctx, repo, after, page)
		if err != nil {
			return n, err
		}
		for _, b := range bs {
			if b.Expires.After(now) {
				continue
			}
			d := b.Manifest.Digest
			if err := s.st.Ret.DeleteBinned(ctx, repo, d); err != nil && !errors.Is(err, store.ErrNotFound) {
				return n, err
			}
			if _, err := s.st.Meta.GetManifest(ctx, repo, d); errors.Is(err, store.ErrNotFound) {
				if err := s.st.Ret.DeleteImageStats(ctx, repo, d); err != nil {
					return n, err
				}
			}
			n++
		}
		if len(bs) < page {
			return n, nil
		}
		after = bs[len(bs)-1].Manifest.Digest
	}
}

// Binned lists a repository's recycle bin.
func (s *Service) Binned(ctx context.Context, repo string, after digest.Digest, limit int) ([]store.BinnedImage, error) {
	return s.st.Ret.ListBinned(ctx, repo, after, limit)
}
