package auth

import (
	"fmt"
	"strings"

	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/textform"
)

// The grammar of every identity name a client gives: tenancy, user,
// group and policy names, and a repository's tenancy namespace. Each is
// checked here, and only here, before it becomes part of a storage key
// on either backend (DynamoDB refuses a sort key over 1,024 bytes, so an
// unchecked name is a 500 there and a silent record in bbolt). The
// limits are in docs/auth.md.

// Name limits, in bytes.
const (
	// MaxTenancyName keeps a namespace short enough to leave room for
	// repository names under oci.MaxNameLength.
	MaxTenancyName = 63
	MaxUserName    = 64
	MaxGroupName   = 100
	MaxPolicyName  = 100
)

// The names are checked by hand (textform.Name), not by regexp: a cold
// start would compile it; names_test.go checks against the expressions
// the messages state.

// userName: the part after "<tenancy>/" in a docker login,
// `[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}`; no '/' or ':' (Basic credentials
// split on the first ':').
func userName(s string) bool { return textform.Name(s, MaxUserName, "._@+-") }

// policyName names a policy in a tenancy,
// `[A-Za-z0-9][A-Za-z0-9._-]{0,99}`.
func policyName(s string) bool { return textform.Name(s, MaxPolicyName, "._-") }

// CheckTenancy reports whether s is a tenancy name: a repository name
// component (it is the first one of every repository in the tenancy).
func CheckTenancy(s string) error {
	if len(s) > MaxTenancyName || strings.Contains(s, "/") || oci.ValidName(s) != nil {
		return fmt.Errorf("tenancy name %q must be 1 to %d characters of a-z and 0-9, with single '.', '_' or '-' between them (it is the first segment of every repository name)", clip(s), MaxTenancyName)
	}
	return nil
}

// CheckUser reports whether s is a user name (without its tenancy).
func CheckUser(s string) error {
	if !userName(s) {
		return fmt.Errorf("user name %q must be 1 to %d characters of letters, digits, '.', '_', '@', '+' and '-', starting with a letter or digit", clip(s), MaxUserName)
	}
	return nil
}

// CheckGroup reports whether s is a group name, as a policy statement
// can name it.
func CheckGroup(s string) error {
	if !validGroup(s) {
		return fmt.Errorf("group name %q must be 1 to %d characters of letters, digits, '.', '_' and '-'", clip(s), MaxGroupName)
	}
	return nil
}

// CheckPolicyName reports whether s names a policy: an access policy of
// a tenancy, or a retention policy.
func CheckPolicyName(s string) error {
	if !policyName(s) {
		return fmt.Errorf("policy name %q must be 1 to %d characters of letters, digits, '.', '_' and '-', starting with a letter or digit", clip(s), MaxPolicyName)
	}
	return nil
}

// CheckRepository reports whether name is a repository name the
// registry serves that starts with a tenancy namespace:
// "<tenancy>/<name>", as the admin and retention APIs take it.
func CheckRepository(name string) error {
	if err := oci.ValidName(name); err != nil {
		return fmt.Errorf("invalid repository name %q: %w", clip(name), err)
	}
	t, rest, _ := strings.Cut(name, "/")
	if rest == "" {
		return fmt.Errorf("repository name %q must start with its tenancy namespace: <tenancy>/%s", name, name)
	}
	if err := CheckTenancy(t); err != nil {
		return fmt.Errorf("repository name %q: %w", name, err)
	}
	return nil
}

// SplitLogin splits a docker login "<tenancy>/<user>", reporting whether
// both parts are names the grammar allows.
func SplitLogin(login string) (tenancy, user string, ok bool) {
	tenancy, user, ok = strings.Cut(login, "/")
	return tenancy, user, ok && CheckTenancy(tenancy) == nil && CheckUser(user) == nil
}

// clip shortens a value quoted back in a message: a 5,000-byte name
// needs no echo in full.
func clip(s string) string {
	const max = 80
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
