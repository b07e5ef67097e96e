package retention

import (
	"context"
	"errors"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
)

// PullTracker counts manifest pulls (registry.Registry's Pulls hook) and
// answers the advance notice a pull carries: one write per pull, which
// returns the image's statistics, notice included, so a warning costs no
// read.
type PullTracker struct {
	Stats store.PullStats
	// Now is the clock pulls are recorded with (the service's).
	Now func() time.Time
}

// Pulled records a pull of repo@d and returns the Warning header value
// for the client, or "".
func (p PullTracker) Pulled(ctx context.Context, repo string, d digest.Digest) (string, error) {
	now := time.Now().UTC()
	if p.Now != nil {
		now = p.Now()
	}
	st, err := p.Stats.RecordPull(ctx, repo, d, now)
	if err != nil || st.Notice == nil {
		return "", err
	}
	return Warning(*st.Notice), nil
}

// ImageDetails is what retention knows of one image: its activity
// (first and last pushed, last pulled, pulls: what the criteria read),
// its marks and notice, its pin and whether it is in the recycle bin.
type ImageDetails struct {
	Repo   string        `json:"repository"`
	Digest digest.Digest `json:"digest"`
	store.Activity
	store.ImageMarks
	Pin    *store.Pin `json:"pin,omitempty"`
	Binned bool       `json:"binned,omitempty"`
}

// ImageDetails returns an image's activity, marks, notice, pin and
// whether it is in the recycle bin (for the admin API's image details).
func (s *Service) ImageDetails(ctx context.Context, repo string, d digest.Digest) (ImageDetails, error) {
	st, err := s.st.Ret.GetImageStats(ctx, repo, d)
	if err != nil {
		return ImageDetails{}, err
	}
	out := ImageDetails{Repo: repo, Digest: d, Activity: store.Activity{LastPulled: st.LastPulled, Pulls: st.Pulls}, ImageMarks: st.ImageMarks}
	m, err := s.st.Meta.GetManifest(ctx, repo, d)
	if err == nil {
		out.Activity = store.ActivityOf(m, st)
	} else if !errors.Is(err, store.ErrNotFound) {
		return out, err
	}
	ps, err := s.st.Ret.ListPins(ctx, repo)
	if err != nil {
		return out, err
	}
	for i := range ps {
		if ps[i].Digest == d {
			out.Pin = &ps[i]
		}
	}
	if b, err := s.st.Ret.GetBinned(ctx, repo, d); err == nil {
		out.Binned = true
		out.Activity = store.ActivityOf(b.Manifest, st)
	} else if !errors.Is(err, store.ErrNotFound) {
		return out, err
	}
	return out, nil
}
