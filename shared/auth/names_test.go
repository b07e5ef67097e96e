package auth

import (
	"regexp"
	"strings"
	"testing"
)

// TestNamesAtTheirLimits: each identity name is allowed up to its limit
// and refused one byte past it, and refused empty, non-ASCII or with a
// NUL — before any of it can become a storage key.
func TestNamesAtTheirLimits(t *testing.T) {
	a := func(n int) string { return strings.Repeat("a", n) }
	for _, tc := range []struct {
		what  string
		check func(string) error
		max   int
	}{
		{"tenancy", CheckTenancy, MaxTenancyName},
		{"user", CheckUser, MaxUserName},
		{"group", CheckGroup, MaxGroupName},
		{"policy", CheckPolicyName, MaxPolicyName},
	} {
		t.Run(tc.what, func(t *testing.T) {
			if err := tc.check(a(tc.max)); err != nil {
				t.Errorf("%d bytes (the limit): %v", tc.max, err)
			}
			for _, bad := range []string{"", a(tc.max + 1), a(1100), a(5000), "é", "a\x00b", "a/b", "a b"} {
				err := tc.check(bad)
				if err == nil {
					t.Errorf("%.20q (%d bytes) allowed", bad, len(bad))
				} else if len(err.Error()) > 400 {
					t.Errorf("%d-byte name: a %d-byte message (echoes it in full?)", len(bad), len(err.Error()))
				}
			}
		})
	}
}

func TestCheckRepository(t *testing.T) {
	for name, ok := range map[string]bool{
		"dev/app":                         true,
		"dev/" + strings.Repeat("a", 251): true, // 255 bytes
		"dev/" + strings.Repeat("a", 252): false,
		"dev/a/b/c/d/e/f/g":               true, // 8 components
		"dev/a/b/c/d/e/f/g/h":             false,
		"app":                             false, // no tenancy
		strings.Repeat("a", 64) + "/app":  false, // tenancy over 63
		"dev//app":                        false,
		"dev/UPPER":                       false,
		"dev/not..valid":                  false,
		"dev/a\x00b":                      false,
		"dev/é":                           false,
	} {
		if err := CheckRepository(name); (err == nil) != ok {
			t.Errorf("CheckRepository(%.40q) = %v, want ok %v", name, err, ok)
		}
	}
}

func TestTokenIDs(t *testing.T) {
	id, secret, _ := NewAuthToken()
	if !ValidTokenID(id) {
		t.Errorf("NewAuthToken's id %q is not valid", id)
	}
	if got, _, ok := ParseAuthToken(secret); !ok || got != id {
		t.Errorf("ParseAuthToken(%q) = %q, %v", secret, got, ok)
	}
	for _, bad := range []string{"", strings.Repeat("a", 15), strings.Repeat("a", 17), "aaaaaaaaaaaaaaa1", "aaaaaaaaaaaaaaa\x00", "AAAAAAAAAAAAAAAA", "aaaaaaaaaaaaaaé"} {
		if ValidTokenID(bad) {
			t.Errorf("ValidTokenID(%q) = true", bad)
		}
		if _, _, ok := ParseAuthToken("bt_" + bad + "_" + strings.Repeat("a", 32)); ok {
			t.Errorf("ParseAuthToken with id %q parsed", bad)
		}
	}
}

// FuzzNameGrammars checks the hand-written user and policy name checks
// against the expressions their messages state.
func FuzzNameGrammars(f *testing.F) {
	user := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$`)
	policy := regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)
	for _, s := range []string{"admin", "ci@example.com", "a+b", "_x", "", "a/b", "a:b", "é", strings.Repeat("a", 64), strings.Repeat("a", 65), strings.Repeat("p", 100), strings.Repeat("p", 101)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := CheckUser(s) == nil, user.MatchString(s); got != want {
			t.Fatalf("CheckUser(%q) ok = %v, want %v", s, got, want)
		}
		if got, want := CheckPolicyName(s) == nil, policy.MatchString(s); got != want {
			t.Fatalf("CheckPolicyName(%q) ok = %v, want %v", s, got, want)
		}
	})
}
