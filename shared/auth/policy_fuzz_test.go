package auth

import (
	"errors"
	"strings"
	"testing"
)

// FuzzParseStatement checks that the policy parser never panics, that an
// error always points inside the statement (or just past its end), and
// that whatever parses re-parses — from its Text and from a canonical
// rendering — to the same Statement. Seeds: testdata/fuzz/FuzzParseStatement.
func FuzzParseStatement(f *testing.F) {
	f.Fuzz(func(t *testing.T, s string) {
		st, err := ParseStatement(s)
		text := strings.TrimSpace(s)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseStatement(%q) error %v is not a *ParseError", s, err)
			}
			if pe.Column < 1 || pe.Column > len(text)+1 {
				t.Fatalf("ParseStatement(%q): column %d outside 1..%d", s, pe.Column, len(text)+1)
			}
			if pe.Msg == "" {
				t.Fatalf("ParseStatement(%q): empty message", s)
			}
			return
		}
		if st.Text != text {
			t.Fatalf("Text = %q, want the trimmed statement %q", st.Text, text)
		}
		if st.Verb < Inspect || st.Verb > Manage || !validGroup(st.Group) {
			t.Fatalf("ParseStatement(%q) = %+v: bad verb or group", s, st)
		}
		if st.Repo != "" && validRepoPattern(st.Repo) != nil || st.Glob && st.Repo == "" {
			t.Fatalf("ParseStatement(%q) = %+v: bad repository condition", s, st)
		}
		again, err := ParseStatement(st.Text)
		if err != nil || again != st {
			t.Fatalf("re-parsing Text %q = %+v, %v; want %+v", st.Text, again, err, st)
		}
		canon := canonical(st)
		c, err := ParseStatement(canon)
		if err != nil || c.Group != st.Group || c.Verb != st.Verb || c.Repo != st.Repo || c.Glob != st.Glob {
			t.Fatalf("canonical form %q of %q = %+v, %v; want %+v", canon, s, c, err, st)
		}
	})
}

// canonical writes a statement the way the docs spell it.
func canonical(st Statement) string {
	out := "allow group " + st.Group + " to " + st.Verb.String() + " repos in tenancy"
	switch {
	case st.Glob:
		out += " where target.repo.name = /" + st.Repo + "/"
	case st.Repo != "":
		out += " where target.repo.name = '" + st.Repo + "'"
	}
	return out
}
