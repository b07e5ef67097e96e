package retention

import (
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"
)

// Criteria name why an image is deleted.
const (
	// CriterionNotPulled: not pulled for the policy's number of days.
	CriterionNotPulled = "notPulled"
	// CriterionUntagged: without a tag for the policy's number of days.
	CriterionUntagged = "untagged"
	// CriterionSubject: a referrer (signature, SBOM) whose subject is
	// deleted.
	CriterionSubject = "subject"
)

// day is how long a policy's day lasts.
const day = 24 * time.Hour

// Candidate is an image as the rules see it.
type Candidate struct {
	Digest digest.Digest
	// Tags are the image's own tags.
	Tags []string
	// Tagged says the image has a tag, directly or through an index
	// that has one (a child of a tagged index is not untagged).
	Tagged bool
	// Pushed is when the image was last pushed — by digest or by tag,
	// so a re-push or a re-tag counts (store.Activity.LastPushed) — or
	// restored from the bin, whichever is later.
	Pushed time.Time
	// LastPulled is the last manifest GET (zero: never pulled).
	LastPulled time.Time
	// UntaggedSince is when the image lost its last tag (zero: never
	// seen tagged, so Pushed counts).
	UntaggedSince time.Time
}

// Rule is one deletion criterion as a pure value: it carries its clock,
// and Perform selects the candidates it would delete, as zot's retention
// rules do (there they select what to keep).
type Rule interface {
	// Criterion names the rule (CriterionNotPulled, CriterionUntagged).
	Criterion() string
	// Due is when the criterion starts to hold for c if nothing about c
	// changes; ok is false when it cannot hold (a tagged image is never
	// untagged for N days).
	Due(c Candidate) (due time.Time, ok bool)
	// Perform returns the candidates for which the criterion holds now.
	Perform(cs []Candidate) []Candidate
	// Reason says why the criterion holds for c, for people.
	Reason(c Candidate) string
}

// NotPulled deletes images not pulled for Days days; an image never
// pulled counts from its push.
type NotPulled struct {
	Days int
	Now  time.Time
}

// Criterion implements Rule.
func (NotPulled) Criterion() string { return CriterionNotPulled }

// Due implements Rule.
func (r NotPulled) Due(c Candidate) (time.Time, bool) {
	return latest(c.Pushed, c.LastPulled).Add(time.Duration(r.Days) * day), true
}

// Perform implements Rule.
func (r NotPulled) Perform(cs []Candidate) []Candidate { return perform(r, r.Now, cs) }

// Reason implements Rule.
func (r NotPulled) Reason(c Candidate) string {
	if c.LastPulled.IsZero() || c.LastPulled.Before(c.Pushed) {
		return fmt.Sprintf("not pulled since its last push %s (the policy deletes images not pulled for %s)", ago(r.Now, c.Pushed), nDays(r.Days))
	}
	return fmt.Sprintf("last pulled %s (the policy deletes images not pulled for %s)", ago(r.Now, c.LastPulled), nDays(r.Days))
}

// Untagged deletes images without a tag for Days days.
type Untagged struct {
	Days int
	Now  time.Time
}

// Criterion implements Rule.
func (Untagged) Criterion() string { return CriterionUntagged }

// Due implements Rule.
func (r Untagged) Due(c Candidate) (time.Time, bool) {
	if c.Tagged {
		return time.Time{}, false
	}
	return untaggedFrom(c).Add(time.Duration(r.Days) * day), true
}

// Perform implements Rule.
func (r Untagged) Perform(cs []Candidate) []Candidate { return perform(r, r.Now, cs) }

// Reason implements Rule.
func (r Untagged) Reason(c Candidate) string {
	if c.UntaggedSince.IsZero() {
		return fmt.Sprintf("untagged since its last push %s (the policy deletes images untagged for %s)", ago(r.Now, c.Pushed), nDays(r.Days))
	}
	return fmt.Sprintf("untagged since %s (the policy deletes images untagged for %s)", ago(r.Now, untaggedFrom(c)), nDays(r.Days))
}

func untaggedFrom(c Candidate) time.Time {
	if c.UntaggedSince.IsZero() {
		return c.Pushed
	}
	return latest(c.UntaggedSince, c.Pushed)
}

// perform selects the candidates whose due time has come by now.
func perform(r Rule, now time.Time, cs []Candidate) []Candidate {
	var out []Candidate
	for _, c := range cs {
		if due, ok := r.Due(c); ok && !due.After(now) {
			out = append(out, c)
		}
	}
	return out
}

// Rules returns the rules a policy's criteria select, evaluated at now.
func Rules(notPulledDays, untaggedDays int, now time.Time) []Rule {
	var rs []Rule
	if notPulledDays > 0 {
		rs = append(rs, NotPulled{Days: notPulledDays, Now: now})
	}
	if untaggedDays > 0 {
		rs = append(rs, Untagged{Days: untaggedDays, Now: now})
	}
	return rs
}

// Exempt returns the first tag that matches one of the patterns, and
// the pattern.
func Exempt(patterns, tags []string) (tag, pattern string, ok bool) {
	for _, t := range tags {
		for _, p := range patterns {
			if Match(p, t) {
				return t, p, true
			}
		}
	}
	return "", "", false
}

// Match reports whether s matches pattern, in which '*' matches any run
// of characters (OCIR's exempt tags) and everything else itself.
func Match(pattern, s string) bool {
	// Iterative wildcard matching with one backtrack point: linear in
	// practice, and no pattern can make it blow up.
	p, i, star, mark := 0, 0, -1, 0
	for i < len(s) {
		switch {
		case p < len(pattern) && pattern[p] == '*':
			star, mark = p, i
			p++
		case p < len(pattern) && pattern[p] == s[i]:
			p++
			i++
		case star >= 0:
			p, mark = star+1, mark+1
			i = mark
		default:
			return false
		}
	}
	for p < len(pattern) && pattern[p] == '*' {
		p++
	}
	return p == len(pattern)
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// nDays renders a number of days.
func nDays(n int) string {
	if n == 1 {
		return "1 day"
	}
	return fmt.Sprintf("%d days", n)
}

// ago renders how long before now t was, in days (or hours, under two
// days), with the date.
func ago(now, t time.Time) string {
	d := now.Sub(t)
	when := t.UTC().Format("2006-01-02")
	if d < 2*day {
		return fmt.Sprintf("%d hours ago (%s)", int(d.Hours()), when)
	}
	return fmt.Sprintf("%d days ago (%s)", int(d/day), when)
}
