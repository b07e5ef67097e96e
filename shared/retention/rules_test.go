package retention

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestRules(t *testing.T) {
	days := func(n int) time.Time { return t0.Add(time.Duration(n) * day) }
	tests := []struct {
		name string
		rule Rule
		c    Candidate
		want bool
	}{
		{"never pulled counts from push: 30 days → deleted", NotPulled{Days: 30, Now: days(30)}, Candidate{Pushed: t0}, true},
		{"never pulled, 29 days → kept", NotPulled{Days: 30, Now: days(29)}, Candidate{Pushed: t0}, false},
		{"pulled 10 days ago → kept", NotPulled{Days: 30, Now: days(40)}, Candidate{Pushed: t0, LastPulled: days(30)}, false},
		{"pulled 31 days ago → deleted", NotPulled{Days: 30, Now: days(61)}, Candidate{Pushed: t0, LastPulled: days(30)}, true},
		{"restored (pushed) after the last pull counts from the restore", NotPulled{Days: 30, Now: days(61)}, Candidate{Pushed: days(50), LastPulled: days(30)}, false},
		{"tagged is never untagged", Untagged{Days: 1, Now: days(400)}, Candidate{Pushed: t0, Tagged: true}, false},
		{"never tagged counts from push", Untagged{Days: 7, Now: days(7)}, Candidate{Pushed: t0}, true},
		{"untagged since day 5, day 11 → kept", Untagged{Days: 7, Now: days(11)}, Candidate{Pushed: t0, UntaggedSince: days(5)}, false},
		{"untagged since day 5, day 12 → deleted", Untagged{Days: 7, Now: days(12)}, Candidate{Pushed: t0, UntaggedSince: days(5)}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := len(tc.rule.Perform([]Candidate{tc.c})) == 1
			if got != tc.want {
				due, _ := tc.rule.Due(tc.c)
				t.Fatalf("Perform selected=%v, want %v (due %s)", got, tc.want, due)
			}
			if got && tc.rule.Reason(tc.c) == "" {
				t.Fatalf("a selected candidate has no reason")
			}
		})
	}
}

func TestRulesFromPolicy(t *testing.T) {
	if rs := Rules(0, 0, t0); len(rs) != 0 {
		t.Errorf("no criteria → %d rules, want none (retain everything)", len(rs))
	}
	rs := Rules(30, 7, t0)
	if len(rs) != 2 || rs[0].Criterion() != CriterionNotPulled || rs[1].Criterion() != CriterionUntagged {
		t.Errorf("Rules(30, 7) = %v", rs)
	}
}

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"latest", "latest", true},
		{"latest", "latest2", false},
		{"v*", "v1.2", true},
		{"v*", "v", true},
		{"v*", "release-v1", false},
		{"*-prod", "eu-prod", true},
		{"*-prod", "eu-prod-2", false},
		{"re*se*", "release", true},
		{"*", "", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "aXbYbZ", false},
		{"*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false},
	}
	for _, tc := range tests {
		if got := Match(tc.pattern, tc.s); got != tc.want {
			t.Errorf("Match(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
	if tag, pattern, ok := Exempt([]string{"prod-*", "stable"}, []string{"dev", "stable"}); !ok || tag != "stable" || pattern != "stable" {
		t.Errorf("Exempt = %q %q %v", tag, pattern, ok)
	}
	if _, _, ok := Exempt([]string{"prod-*"}, []string{"dev"}); ok {
		t.Errorf("Exempt matched a tag no pattern matches")
	}
}
