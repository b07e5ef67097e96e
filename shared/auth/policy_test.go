package auth

import (
	"errors"
	"strings"
	"testing"
)

func TestParseStatementAccepts(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Statement
	}{
		{"inspect on the whole tenancy", "allow group viewers to inspect repos in tenancy",
			Statement{Group: "viewers", Verb: Inspect}},
		{"read on the whole tenancy", "allow group pullers to read repos in tenancy",
			Statement{Group: "pullers", Verb: Read}},
		{"use on the whole tenancy", "allow group ci to use repos in tenancy",
			Statement{Group: "ci", Verb: Use}},
		{"manage on the whole tenancy", "allow group acme-managers to manage repos in tenancy",
			Statement{Group: "acme-managers", Verb: Manage}},
		{"quoted name limits to one repository", "allow group devs to use repos in tenancy where target.repo.name = 'team/app'",
			Statement{Group: "devs", Verb: Use, Repo: "team/app"}},
		{"double-quoted name", `allow group devs to read repos in tenancy where target.repo.name = "app"`,
			Statement{Group: "devs", Verb: Read, Repo: "app"}},
		{"slashes make a glob", "allow group team to use repos in tenancy where target.repo.name = /team-*/",
			Statement{Group: "team", Verb: Use, Repo: "team-*", Glob: true}},
		{"keywords and verbs are case-insensitive", "ALLOW Group Ops TO Manage REPOS In TENANCY WHERE Target.Repo.Name = 'app'",
			Statement{Group: "Ops", Verb: Manage, Repo: "app"}},
		{"quoted group name", "allow group 'release.bots_1' to read repos in tenancy",
			Statement{Group: "release.bots_1", Verb: Read}},
		{"no spaces around '='", "allow group g to read repos in tenancy where target.repo.name='a.b_c-d'",
			Statement{Group: "g", Verb: Read, Repo: "a.b_c-d"}},
		{"tabs and newlines separate words", "allow\tgroup g\nto read\r\nrepos in tenancy",
			Statement{Group: "g", Verb: Read}},
		{"surrounding space is trimmed", "   allow group g to read repos in tenancy  ",
			Statement{Group: "g", Verb: Read}},
		{"a group may be named like a keyword", "allow group to to read repos in tenancy",
			Statement{Group: "to", Verb: Read}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseStatement(tc.in)
			if err != nil {
				t.Fatalf("ParseStatement(%q): %v", tc.in, err)
			}
			tc.want.Text = strings.TrimSpace(tc.in)
			if got != tc.want {
				t.Errorf("ParseStatement(%q)\n got %+v\nwant %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestParseStatementRefusesPointingAtTheColumn(t *testing.T) {
	long := "allow group g to read repos in tenancy where target.repo.name = '" + strings.Repeat("a", MaxStatementLength) + "'"
	tests := []struct {
		name    string
		in      string
		column  int
		msgPart string
	}{
		{"empty statement", "", 1, `expected "allow", found the end`},
		{"deny is not a statement", "deny group g to read repos in tenancy", 1, `expected "allow", found "deny"`},
		{"misspelt group keyword", "allow grop g to read repos in tenancy", 7, `expected "group", found "grop"`},
		{"group name with a bad character", "allow group g$ to read repos in tenancy", 13, "expected a group name"},
		{"group name missing", "allow group", 12, "expected a group name"},
		{"to missing", "allow group g read repos in tenancy", 15, `expected "to", found "read"`},
		{"unknown verb", "allow group g to write repos in tenancy", 18, `unknown verb "write"`},
		{"verb missing", "allow group g to", 17, "expected a verb"},
		{"verb in quotes", "allow group g to 'read' repos in tenancy", 18, "expected a verb"},
		{"repo instead of repos", "allow group g to read repo in tenancy", 23, `expected "repos", found "repo"`},
		{"compartment instead of tenancy", "allow group g to read repos in compartment", 32, `expected "tenancy"`},
		{"where without a condition", "allow group g to read repos in tenancy where", 45, `expected "target.repo.name", found the end`},
		{"condition on another variable", "allow group g to read repos in tenancy where target.repo.tag = 'x'", 46, `expected "target.repo.name"`},
		{"'=' missing", "allow group g to read repos in tenancy where target.repo.name 'app'", 63, "expected '='"},
		{"unquoted name", "allow group g to read repos in tenancy where target.repo.name = app", 65, "expected a repository name in quotes"},
		{"value missing", "allow group g to read repos in tenancy where target.repo.name =", 64, "expected a repository name in quotes"},
		{"upper-case repository name", "allow group g to read repos in tenancy where target.repo.name = 'App'", 65, "may only hold a-z"},
		{"empty repository name", "allow group g to read repos in tenancy where target.repo.name = ''", 65, "empty repository name"},
		{"pattern with a bad character", "allow group g to read repos in tenancy where target.repo.name = /te?m/", 65, "may only hold a-z"},
		{"unterminated quote", "allow group g to read repos in tenancy where target.repo.name = 'app", 65, "unterminated '"},
		{"unterminated pattern", "allow group g to read repos in tenancy where target.repo.name = /team-*", 65, "unterminated /"},
		{"unterminated group quote", `allow group "g to read repos in tenancy`, 13, `unterminated "`},
		{"trailing words", "allow group g to read repos in tenancy where target.repo.name = 'app' and more", 71, `unexpected "and"`},
		{"trailing words without where", "allow group g to read repos in tenancy please", 40, `expected "where", found "please"`},
		{"over-long statement", long, MaxStatementLength, "longer than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseStatement(tc.in)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseStatement(%q) error = %v, want a *ParseError", tc.in, err)
			}
			if pe.Column != tc.column {
				t.Errorf("column %d, want %d (%v)", pe.Column, tc.column, err)
			}
			if !strings.Contains(pe.Msg, tc.msgPart) {
				t.Errorf("message %q does not contain %q", pe.Msg, tc.msgPart)
			}
			if !strings.Contains(err.Error(), "column ") {
				t.Errorf("Error() = %q, want it to name the column", err.Error())
			}
		})
	}
}

func TestParsePolicyNamesTheStatementAtFault(t *testing.T) {
	good := "allow group g to read repos in tenancy"
	stmts, err := ParsePolicy([]string{good, "allow group h to manage repos in tenancy"})
	if err != nil || len(stmts) != 2 || stmts[1].Group != "h" || stmts[1].Verb != Manage {
		t.Fatalf("ParsePolicy of two good statements = %+v, %v", stmts, err)
	}
	_, err = ParsePolicy([]string{good, good, "allow group g to fly repos in tenancy"})
	var pe *ParseError
	if !errors.As(err, &pe) || !strings.HasPrefix(err.Error(), "statement 3: column 18:") {
		t.Errorf("ParsePolicy error = %v, want it to start with statement 3: column 18 and wrap a *ParseError", err)
	}
	if stmts, err := ParsePolicy(nil); err != nil || len(stmts) != 0 {
		t.Errorf("ParsePolicy(nil) = %v, %v; want no statements, no error", stmts, err)
	}
}

func TestStatementMatches(t *testing.T) {
	tests := []struct {
		repo string
		glob bool
		name string
		want bool
	}{
		{"", false, "anything/at/all", true},
		{"app", false, "app", true},
		{"app", false, "app2", false},
		{"app", false, "team/app", false},
		{"team-*", false, "team-a", false}, // a quoted name is literal
		{"team-*", false, "team-*", true},
		{"team-*", true, "team-a", true},
		{"team-*", true, "team-", true},
		{"team-*", true, "team-a/app/deep", true}, // '*' crosses '/'
		{"team-*", true, "teams", false},
		{"team-*", true, "x/team-a", false},
		{"*-prod", true, "web/api-prod", true},
		{"*-prod", true, "web/api-prod/x", false},
		{"a*b*c", true, "abc", true},
		{"a*b*c", true, "a/x/b/y/c", true},
		{"a*b*c", true, "acb", false},
		{"a*a", true, "a", false}, // prefix and suffix may not overlap
		{"ab*ba", true, "aba", false},
		{"*", true, "", true},
		{"*", true, "x/y", true},
		{"app", true, "app", true}, // a pattern without '*' is exact
		{"app", true, "apps", false},
	}
	for _, tc := range tests {
		s := Statement{Repo: tc.repo, Glob: tc.glob}
		if got := s.Matches(tc.name); got != tc.want {
			t.Errorf("Statement{Repo: %q, Glob: %v}.Matches(%q) = %v, want %v", tc.repo, tc.glob, tc.name, got, tc.want)
		}
	}
}

func TestVerbString(t *testing.T) {
	for v, want := range map[Verb]string{Inspect: "inspect", Read: "read", Use: "use", Manage: "manage", 0: "verb(0)", 9: "verb(9)"} {
		if got := v.String(); got != want {
			t.Errorf("Verb(%d).String() = %q, want %q", int(v), got, want)
		}
	}
	if !(Inspect < Read && Read < Use && Use < Manage) {
		t.Error("verbs are not ordered weakest first")
	}
}

func TestPatternsMayHoldSlashes(t *testing.T) {
	st, err := ParseStatement("allow group ci to use repos in tenancy where target.repo.name = /team/*/")
	if err != nil {
		t.Fatal(err)
	}
	if !st.Glob || st.Repo != "team/*" {
		t.Fatalf("pattern %q glob=%v", st.Repo, st.Glob)
	}
	if !st.Matches("team/app") || !st.Matches("team/a/b") || st.Matches("teams/app") {
		t.Error("matching /team/*/")
	}
	if _, err := ParseStatement("allow group ci to use repos in tenancy where target.repo.name = /team/*/ x"); err == nil {
		t.Error("text after the pattern accepted")
	}
}
