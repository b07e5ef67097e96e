// Package clock is Berth's one source of time. Every timestamp Berth
// records — a push, a tag move, a pull, an upload's expiry, a retention
// run, a garbage collection, the recycle bin, a restore, registry and
// auth token times — is read from one Clock that the composition
// (shared/app.Env) builds and hands to every component, so that a test clock moves all
// of them at once (BERTH_TEST_CLOCK=1, docs/retention.md "Time under
// test control").
//
// Durations measured within one request (timeouts, latency, caches)
// stay on the wall clock: they are not records.
package clock

import (
	"errors"
	"sync"
	"time"
)

// Clock tells the time: the wall clock (the zero Clock, or a nil one),
// or a test clock that stands still until it is advanced.
type Clock struct {
	mu   sync.Mutex
	test bool
	at   time.Time
}

// Wall returns the wall clock.
func Wall() *Clock { return &Clock{} }

// NewTest returns a test clock reading start (truncated to the second)
// until it is advanced. A clock that stands still makes every
// timestamp a test sees exact: a push on day 0 is recorded at start,
// one after Advance(20*24*time.Hour) at start plus 20 days.
func NewTest(start time.Time) *Clock {
	return &Clock{test: true, at: start.UTC().Truncate(time.Second)}
}

// Now returns the clock's time, in UTC.
func (c *Clock) Now() time.Time {
	if c == nil || !c.test {
		return time.Now().UTC()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.at
}

// Test reports whether c is a test clock.
func (c *Clock) Test() bool { return c != nil && c.test }

// ErrWall refuses to move the wall clock.
var ErrWall = errors.New("only a test clock moves (BERTH_TEST_CLOCK=1)")

// ErrBackward refuses to move a clock backward: stores compare touch
// and pull times, and expect them never to go back.
var ErrBackward = errors.New("the clock only moves forward")

// Advance moves a test clock forward by d and returns its new time.
func (c *Clock) Advance(d time.Duration) (time.Time, error) {
	switch {
	case !c.Test():
		return time.Time{}, ErrWall
	case d < 0:
		return time.Time{}, ErrBackward
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = c.at.Add(d)
	return c.at, nil
}
