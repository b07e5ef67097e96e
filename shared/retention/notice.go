package retention

import (
	"fmt"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
)

// notices returns, for each image that stays now but that a run within
// the notice window would delete even if it were pulled now, what a pull
// of it should warn about. Pulling cancels "not pulled" only for the
// image pulled, so the evaluation at the window's end assumes every
// image pulled now: what it still deletes, a pull cannot save.
func (g *graph) notices(in Input, cands map[digest.Digest]Candidate, pins map[digest.Digest]store.Pin, coolingEnd time.Time) map[digest.Digest]*store.Notice {
	p := in.Policy
	if in.Config.NoticeWindow <= 0 || (p.NotPulledDays <= 0 && p.UntaggedDays <= 0) {
		return nil
	}
	horizon := in.Now.Add(in.Config.NoticeWindow)
	pulled := make(map[digest.Digest]Candidate, len(cands))
	for d, c := range cands {
		c.LastPulled = latest(c.LastPulled, in.Now)
		pulled[d] = c
	}
	later := g.decide(pulled, Rules(p.NotPulledDays, p.UntaggedDays, horizon), pins, p.ExemptTags, horizon)
	rulesNow := map[string]Rule{}
	for _, r := range Rules(p.NotPulledDays, p.UntaggedDays, in.Now) {
		rulesNow[r.Criterion()] = r
	}
	out := map[digest.Digest]*store.Notice{}
	for _, d := range g.order {
		if later.kept[d] {
			continue
		}
		root, via := d, ""
		for i := 0; g.attached[root] && i < len(g.order); i++ {
			root = g.images[root].Manifest.Subject
			via = fmt.Sprintf("it refers to %s, which will be deleted: ", short(root))
		}
		c, ok := pulled[root]
		if !ok {
			continue
		}
		var due time.Time
		var reasons []string
		for _, h := range later.hits[root] {
			r := rulesNow[h.criterion]
			if at, ok := r.Due(c); ok && (due.IsZero() || at.Before(due)) {
				due = at
			}
			reasons = append(reasons, r.Reason(c))
		}
		if pin, ok := pins[root]; ok && !pin.Expires.IsZero() {
			due = latest(due, pin.Expires)
		}
		due = latest(latest(due, coolingEnd), in.Now).UTC().Truncate(time.Minute)
		out[d] = &store.Notice{At: due, Policy: p.Name, Reason: via + strings.Join(reasons, "; ")}
	}
	return out
}

// tripped reports whether deleting n of total images trips the circuit
// breaker.
func tripped(c Config, p store.RetentionPolicy, n, total int) bool {
	share, count := breakerLimits(c, p)
	if count >= 0 && n > count {
		return true
	}
	return share < 1 && total > 0 && float64(n)/float64(total) > share
}

// breakerLimits are a policy's circuit-breaker limits: its own, else
// the configured defaults; a share >= 1 or a count < 0 is no limit.
func breakerLimits(c Config, p store.RetentionPolicy) (share float64, count int) {
	share, count = p.MaxDeleteShare, p.MaxDeleteCount
	if share == 0 {
		share = c.MaxDeleteShare
	}
	if count == 0 {
		count = c.MaxDeleteCount
	}
	return share, count
}

func limits(c Config, p store.RetentionPolicy) string {
	share, count := breakerLimits(c, p)
	var parts []string
	if share < 1 {
		parts = append(parts, fmt.Sprintf("more than %g%% of the images", share*100))
	}
	if count >= 0 {
		parts = append(parts, fmt.Sprintf("more than %d images", count))
	}
	return strings.Join(parts, " or ")
}
