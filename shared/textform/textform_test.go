package textform

import (
	"regexp"
	"strings"
	"testing"
)

// TestLayoutMatchesItsExpression: Layout accepts what the regular
// expression of the same layout accepts.
func TestLayoutMatchesItsExpression(t *testing.T) {
	const form = "ddddddddTdddddd.dddZ-xxxxxx"
	re := regexp.MustCompile(`^[0-9]{8}T[0-9]{6}\.[0-9]{3}Z-[0-9a-f]{6}$`)
	for _, s := range []string{
		"20261203T134700.123Z-0a1b2c", "20261203T134700.123Z-0a1b2", "20261203T134700.123Z-0a1b2c3",
		"20261203T134700.123Z-0A1B2C", "2026120xT134700.123Z-0a1b2c", "20261203t134700.123Z-0a1b2c",
		"20261203T134700,123Z-0a1b2c", "20261203T134700.123Z_0a1b2c", "", form,
	} {
		if got, want := Layout(s, form), re.MatchString(s); got != want {
			t.Errorf("Layout(%q) = %v, want %v", s, got, want)
		}
	}
}

// TestRunMatchesItsExpression: Run accepts what a character-class run
// with the same bounds accepts.
func TestRunMatchesItsExpression(t *testing.T) {
	re := regexp.MustCompile(`^[A-Za-z0-9_.*-]{1,128}$`)
	for _, s := range []string{
		"", "a", "v1.2.3-rc_1", "*", "release-*", strings.Repeat("a", 128), strings.Repeat("a", 129),
		"a b", "a/b", "a:b", "é", "a\x00", "ZZ-9",
	} {
		if got, want := Run(s, 1, 128, "_.*-"), re.MatchString(s); got != want {
			t.Errorf("Run(%q) = %v, want %v", s, got, want)
		}
	}
}
