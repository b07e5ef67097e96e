package retention

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/berth-registry/berth/shared/store"
)

// A policy write names fields: PUT and POST replace the whole policy
// (an unnamed field goes back to its default), PATCH changes only what
// it names (JSON merge patch, RFC 7396: null sets a field back to its
// default). Both go through one table, so a field is parsed, reset and
// compared in one place.

// policyField is one field a write may set.
type policyField struct {
	name string
	// set applies a JSON value; null resets the field to its default.
	set func(p *store.RetentionPolicy, raw json.RawMessage) error
	// value reads the field, for changes.
	value func(p store.RetentionPolicy) any
	// show renders a value for people.
	show func(cfg Config, p store.RetentionPolicy) string
	// loosens says whether going from a to b removes a protection: b
	// may delete an image that a keeps.
	loosens func(cfg Config, a, b store.RetentionPolicy) bool
	// criterion: a change restarts the cooling period.
	criterion bool
}

// setJSON decodes raw into dst; JSON null sets dst's zero value.
func setJSON[T any](raw json.RawMessage, dst *T) error {
	var zero T
	if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
		*dst = zero
		return nil
	}
	var v T
	if err := json.Unmarshal(raw, &v); err != nil {
		return err
	}
	*dst = v
	return nil
}

// shorter says threshold b (days, 0: off) deletes sooner than a.
func shorter(a, b int) bool { return b > 0 && (a == 0 || b < a) }

var policyFields = []policyField{
	{name: "notPulledDays", criterion: true,
		set:     func(p *store.RetentionPolicy, raw json.RawMessage) error { return setJSON(raw, &p.NotPulledDays) },
		value:   func(p store.RetentionPolicy) any { return p.NotPulledDays },
		show:    func(_ Config, p store.RetentionPolicy) string { return offOrDays(p.NotPulledDays) },
		loosens: func(_ Config, a, b store.RetentionPolicy) bool { return shorter(a.NotPulledDays, b.NotPulledDays) }},
	{name: "untaggedDays", criterion: true,
		set:     func(p *store.RetentionPolicy, raw json.RawMessage) error { return setJSON(raw, &p.UntaggedDays) },
		value:   func(p store.RetentionPolicy) any { return p.UntaggedDays },
		show:    func(_ Config, p store.RetentionPolicy) string { return offOrDays(p.UntaggedDays) },
		loosens: func(_ Config, a, b store.RetentionPolicy) bool { return shorter(a.UntaggedDays, b.UntaggedDays) }},
	{name: "exemptTags", criterion: true,
		set: func(p *store.RetentionPolicy, raw json.RawMessage) error {
			if err := setJSON(raw, &p.ExemptTags); err != nil {
				return err
			}
			if len(p.ExemptTags) == 0 {
				p.ExemptTags = nil
			}
			return nil
		},
		value: func(p store.RetentionPolicy) any { return nonNil(p.ExemptTags) },
		show: func(_ Config, p store.RetentionPolicy) string {
			if len(p.ExemptTags) == 0 {
				return "none"
			}
			return strings.Join(p.ExemptTags, ", ")
		},
		loosens: func(_ Config, a, b store.RetentionPolicy) bool { return len(removedPatterns(a, b)) > 0 }},
	{name: "maxDeleteShare",
		set:   func(p *store.RetentionPolicy, raw json.RawMessage) error { return setJSON(raw, &p.MaxDeleteShare) },
		value: func(p store.RetentionPolicy) any { return p.MaxDeleteShare },
		show: func(cfg Config, p store.RetentionPolicy) string {
			share, _ := breakerLimits(cfg, p)
			return withDefault(showShare(share), p.MaxDeleteShare == 0)
		},
		loosens: func(cfg Config, a, b store.RetentionPolicy) bool {
			sa, _ := breakerLimits(cfg, a)
			sb, _ := breakerLimits(cfg, b)
			return sa < 1 && sb > sa
		}},
	{name: "maxDeleteCount",
		set:   func(p *store.RetentionPolicy, raw json.RawMessage) error { return setJSON(raw, &p.MaxDeleteCount) },
		value: func(p store.RetentionPolicy) any { return p.MaxDeleteCount },
		show: func(cfg Config, p store.RetentionPolicy) string {
			_, count := breakerLimits(cfg, p)
			return withDefault(showCount(count), p.MaxDeleteCount == 0)
		},
		loosens: func(cfg Config, a, b store.RetentionPolicy) bool {
			_, ca := breakerLimits(cfg, a)
			_, cb := breakerLimits(cfg, b)
			return ca >= 0 && (cb < 0 || cb > ca)
		}},
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func offOrDays(n int) string {
	if n == 0 {
		return "off"
	}
	return nDays(n)
}

func showShare(share float64) string {
	if share >= 1 {
		return "no limit"
	}
	return fmt.Sprintf("%g%%", share*100)
}

func showCount(count int) string {
	if count < 0 {
		return "no limit"
	}
	return fmt.Sprintf("%d images", count)
}

func withDefault(s string, isDefault bool) string {
	if isDefault {
		return s + " (default)"
	}
	return s
}

// removedPatterns are a's exempt patterns that b lacks.
func removedPatterns(a, b store.RetentionPolicy) []string {
	var out []string
	for _, p := range a.ExemptTags {
		if !slices.Contains(b.ExemptTags, p) {
			out = append(out, p)
		}
	}
	return out
}

// applyFields sets the fields a write names on p, refusing unknown
// ones and values of the wrong type. tenancy, name and repositories
// are the write's own (read by the caller), not fields.
func applyFields(p *store.RetentionPolicy, body map[string]json.RawMessage) error {
	for k, raw := range body {
		if k == "tenancy" || k == "name" || k == "repositories" {
			continue
		}
		i := slices.IndexFunc(policyFields, func(f policyField) bool { return f.name == k })
		if i < 0 {
			return invalid("a retention policy has no field %q; its fields are %s", k, fieldNames())
		}
		if err := policyFields[i].set(p, raw); err != nil {
			return invalid("%s: %s is not a valid value (%v)", k, raw, err)
		}
	}
	return nil
}

func fieldNames() string {
	var names []string
	for _, f := range policyFields {
		names = append(names, f.name)
	}
	return strings.Join(names, ", ")
}

// withoutFields returns the policy p with its fields (not its identity,
// times or version) reset to their defaults.
func withoutFields(p store.RetentionPolicy) store.RetentionPolicy {
	return store.RetentionPolicy{Tenancy: p.Tenancy, Name: p.Name, Created: p.Created, Changed: p.Changed, Version: p.Version}
}

// checkPolicy refuses values out of range.
func checkPolicy(p store.RetentionPolicy) error {
	switch {
	case p.NotPulledDays < 0 || p.NotPulledDays > 3650 || p.UntaggedDays < 0 || p.UntaggedDays > 3650:
		return invalid("notPulledDays and untaggedDays must be 0 (off) to 3650")
	case p.MaxDeleteShare < 0 || p.MaxDeleteShare > 1:
		return invalid("maxDeleteShare must be 0 (the default) to 1 (no limit)")
	case p.MaxDeleteCount < -1:
		return invalid("maxDeleteCount must be -1 (no limit), 0 (the default) or a number of images")
	}
	for _, pat := range p.ExemptTags {
		if !validTagPattern(pat) {
			return invalid("exempt tag pattern %q must be tag characters (letters, digits, '_', '.', '-') and '*'", pat)
		}
	}
	return nil
}

// Change is one field a write changed.
type Change struct {
	Field string `json:"field"`
	From  any    `json:"from"`
	To    any    `json:"to"`
	// Summary says it for people: "not pulled: 10 days → 60 days".
	Summary string `json:"summary"`
	// RemovesProtection says the policy may now delete images that it
	// kept before: a criterion turned on or shortened, an exempt
	// pattern removed, a circuit-breaker limit raised or lifted.
	RemovesProtection bool `json:"removesProtection,omitempty"`
}

var fieldLabels = map[string]string{
	"notPulledDays": "not pulled for", "untaggedDays": "untagged for", "exemptTags": "exempt tags",
	"maxDeleteShare": "circuit breaker share", "maxDeleteCount": "circuit breaker count",
}

// changes lists what differs from a to b, and whether the criteria
// (which restart the cooling period) changed.
func changes(cfg Config, a, b store.RetentionPolicy) (out []Change, criteria bool) {
	out = []Change{}
	for _, f := range policyFields {
		from, to := f.value(a), f.value(b)
		fj, _ := json.Marshal(from)
		tj, _ := json.Marshal(to)
		if bytes.Equal(fj, tj) {
			continue
		}
		c := Change{Field: f.name, From: from, To: to, RemovesProtection: f.loosens(cfg, a, b),
			Summary: fieldLabels[f.name] + ": " + f.show(cfg, a) + " → " + f.show(cfg, b)}
		if f.name == "exemptTags" {
			if gone := removedPatterns(a, b); len(gone) > 0 {
				c.Summary += " (no longer exempt: " + strings.Join(gone, ", ") + ")"
			}
		}
		out = append(out, c)
		criteria = criteria || f.criterion
	}
	return out, criteria
}

// summarize joins changes for the audit trail.
func summarize(cs []Change) string {
	var s []string
	for _, c := range cs {
		s = append(s, c.Summary)
	}
	return strings.Join(s, "; ")
}
