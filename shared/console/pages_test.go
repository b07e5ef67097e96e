package console

import (
	"bytes"
	"testing"
)

// TestEveryPageParses: the console parses a page when it first renders
// it, not at start, so a template that does not parse would show only
// then; this parses every one.
func TestEveryPageParses(t *testing.T) {
	p, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	if len(p.byName) != 10 {
		t.Errorf("parsed %d pages, want the 10 of templates/ besides the layout", len(p.byName))
	}
	for _, bad := range []string{"layout", "nope", "../console", "templates/sign-in", ""} {
		if _, err := p.get(bad); err == nil {
			t.Errorf("get(%q) found a page", bad)
		}
	}
	// A page parsed after another was rendered renders too (the layout
	// is cloned, never executed itself).
	q := newPages()
	for _, name := range []string{"sign-in", "error"} {
		tpl, err := q.get(name)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := tpl.ExecuteTemplate(&buf, "layout", &Page{}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
}
