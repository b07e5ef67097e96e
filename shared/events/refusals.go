package events

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/berth-registry/berth/shared/store"
)

// RefusalCounter raises login.refused_bulk: it counts a tenancy's
// refused logins in fixed windows (authz.Refusals) and, when a window's
// count reaches Threshold, marks the window alerted with the event
// riding that write, once per window whichever instance counts past the
// threshold first. Only tenancies that exist are counted, so refused
// logins naming made-up tenancies write nothing.
type RefusalCounter struct {
	store     store.LoginRefusals
	tenancies store.Tenancies
	threshold int
	window    time.Duration
	now       func() time.Time
	log       *slog.Logger

	mu sync.Mutex
	// known caches tenancies' existence; alerted, the windows this
	// instance saw alerted (no more counting needed in them).
	known   map[string]knownTenancy
	alerted map[string]time.Time
}

type knownTenancy struct {
	exists  bool
	checked time.Time
}

// NewRefusalCounter returns a counter raising the event at threshold
// refusals within a window.
func NewRefusalCounter(st store.LoginRefusals, ts store.Tenancies, threshold int, window time.Duration, now func() time.Time, log *slog.Logger) *RefusalCounter {
	if log == nil {
		log = slog.Default()
	}
	return &RefusalCounter{store: st, tenancies: ts, threshold: threshold, window: window, now: now, log: log,
		known: map[string]knownTenancy{}, alerted: map[string]time.Time{}}
}

// Refused implements authz.Refusals. A failure to count is logged: it
// never changes the login's answer.
func (c *RefusalCounter) Refused(ctx context.Context, tenancy string) {
	now := c.now().UTC()
	start := now.Truncate(c.window)
	k := tenancy + "\x00" + start.String()
	if !c.exists(ctx, tenancy, now) || c.seen(k, now) {
		return
	}
	n, err := c.store.CountRefusal(ctx, tenancy, start, start.Add(2*c.window))
	if err != nil {
		c.log.WarnContext(ctx, "counting a refused login failed", "tenancy", tenancy, "error", err.Error())
		return
	}
	if n < c.threshold {
		return
	}
	ev := New(ctx, now, LoginsRefused, tenancy, "", LoginsRefusedData{Refused: n, Threshold: c.threshold,
		WindowStart: start, WindowEnd: start.Add(c.window)})
	err = c.store.MarkRefusalAlert(With(ctx, ev), tenancy, start)
	if err != nil && !errors.Is(err, store.ErrExists) {
		c.log.WarnContext(ctx, "raising login.refused_bulk failed", "tenancy", tenancy, "error", err.Error())
		return
	}
	c.mu.Lock()
	c.alerted[k] = start.Add(c.window)
	c.mu.Unlock()
}

// seen reports whether this instance saw window k alerted already, and
// forgets windows that ended.
func (c *RefusalCounter) seen(k string, now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for w, end := range c.alerted {
		if now.After(end) {
			delete(c.alerted, w)
		}
	}
	_, ok := c.alerted[k]
	return ok
}

// exists reports whether tenancy exists, cached for a minute.
func (c *RefusalCounter) exists(ctx context.Context, tenancy string, now time.Time) bool {
	c.mu.Lock()
	k, ok := c.known[tenancy]
	c.mu.Unlock()
	if ok && now.Sub(k.checked) < time.Minute {
		return k.exists
	}
	_, err := c.tenancies.GetTenancy(ctx, tenancy)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return false
	}
	c.mu.Lock()
	if len(c.known) > 10000 {
		clear(c.known)
	}
	c.known[tenancy] = knownTenancy{exists: err == nil, checked: now}
	c.mu.Unlock()
	return err == nil
}
