package admin

import (
	"context"
	"net/http"
	"time"

	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/scrub"
)

// Scrubber re-hashes stored blobs (shared/scrub).
type Scrubber interface {
	// Verify checks blob records until the request is done or its
	// deadline passes.
	Verify(ctx context.Context, req scrub.Request) (scrub.Report, error)
}

// scrubBudget is how long one verify request hashes: inside API
// Gateway's 30 s, with time left to answer.
const scrubBudget = 20 * time.Second

// POST /api/blobs/verify {"sample": N} or {"after": "<digest>"}: re-hash
// stored blobs against their digests and quarantine the ones that do
// not match (docs/storage.md, "Detect and heal"). The answer says where
// to continue ("next"); `berth blobs verify` repeats the request.
func (a *API) verifyBlobs(w http.ResponseWriter, r *http.Request, c *call) error {
	if !c.who.Super {
		return denied("verifying blobs spans every tenancy: only administrators of %s may start it", a.cfg.Tenancy)
	}
	if a.scrub == nil {
		return notFound("this registry's storage offers no blob verification")
	}
	var b struct {
		Sample int    `json:"sample"`
		After  string `json:"after"`
	}
	if err := decode(r, &b); err != nil {
		return err
	}
	req := scrub.Request{Sample: b.Sample, Deadline: time.Now().Add(scrubBudget)}
	if b.Sample < 0 {
		return invalid("sample must be a positive number of blobs, not %d", b.Sample)
	}
	if b.After != "" {
		d, err := oci.ParseDigest(b.After)
		if err != nil {
			return invalid("after: %v", err)
		}
		req.After = d
	}
	if dl, ok := r.Context().Deadline(); ok && dl.Add(-3*time.Second).Before(req.Deadline) {
		req.Deadline = dl.Add(-3 * time.Second)
	}
	rep, err := a.scrub.Verify(r.Context(), req)
	if err != nil {
		return err
	}
	if len(rep.Mismatches) > 0 {
		a.log.ErrorContext(r.Context(), "blob verification found blobs whose bytes do not match their digests", "mismatches", len(rep.Mismatches))
	}
	return reply(w, http.StatusOK, rep)
}
