package admin

import (
	"regexp"
	"strings"
	"testing"
)

// TestNameChecksMatchTheirExpressions: the hand checks of rule, claim
// and host names accept what the regular expressions they replaced
// accepted.
func TestNameChecksMatchTheirExpressions(t *testing.T) {
	inputs := []string{
		"", "a", "-a", "a-", ".a", "a.b", "a..b", "ci_deploy", "a/b", "a:b", "é", "a b",
		"github-actions", "token.actions.githubusercontent.com", "sub.-x.example", "x.example.",
		strings.Repeat("a", 63) + ".com", strings.Repeat("a", 64) + ".com",
		strings.Repeat("a", 100), strings.Repeat("a", 101), "0" + strings.Repeat("_", 99),
	}
	checks := []struct {
		name  string
		check func(string) bool
		re    *regexp.Regexp
	}{
		{"rule", validRuleName, regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)},
		{"claim", validClaimName, regexp.MustCompile(`^[A-Za-z0-9_.:/-]{1,100}$`)},
		{"host", validHostName, regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*$`)},
	}
	for _, c := range checks {
		for _, s := range inputs {
			if got, want := c.check(s), c.re.MatchString(s); got != want {
				t.Errorf("%s name %q: %v, want %v", c.name, s, got, want)
			}
		}
	}
}
