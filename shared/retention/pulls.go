package retention

import (
	"context"
	"errors"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
)

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
