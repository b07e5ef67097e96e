package dynamo

import (
	"regexp"
	"slices"
	"testing"
)

// TestPlaceholdersMatchTheirExpressions: the hand scanners find what
// the regular expressions in their comments find, on the key conditions
// the store writes and on near misses.
func TestPlaceholdersMatchTheirExpressions(t *testing.T) {
	pkRE := regexp.MustCompile(`\bpk\s*=\s*(:\w+)`)
	nameRE := regexp.MustCompile(`:\w+`)
	for _, cond := range []string{
		"pk = :pk",
		"pk = :pk AND begins_with(sk, :prefix)",
		"pk=:p AND sk BETWEEN :from AND :to",
		"pk\t=\n:pk_1",
		"gsi1pk = :g AND gsi1sk > :after",
		"xpk = :a AND pk = :b",
		"pk = : AND pk = :c",
		"pk = pk AND pk = :d",
		"#pk = :e",
		"sk > :s AND pk = :f",
		":a:b::c",
		"pk",
		"",
		"pk = ",
		"pkpk = :g",
	} {
		want := ""
		if m := pkRE.FindStringSubmatch(cond); m != nil {
			want = m[1]
		}
		if got := pkPlaceholder(cond); got != want {
			t.Errorf("pkPlaceholder(%q) = %q, want %q", cond, got, want)
		}
		if got, want := placeholders(cond), nameRE.FindAllString(cond, -1); !slices.Equal(got, want) {
			t.Errorf("placeholders(%q) = %q, want %q", cond, got, want)
		}
	}
}
