package admin

import (
	"regexp"
	"strings"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/oci"
)

var (
	// userName: the part after "<tenancy>/" in a docker login; no '/' or
	// ':' (Basic credentials split on the first ':').
	userName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}$`)
	// groupName is what a policy statement can name (auth's grammar).
	groupName = regexp.MustCompile(`^[A-Za-z0-9._-]{1,100}$`)
	// policyName names a policy in a tenancy.
	policyName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$`)
)

// maxTenancyName keeps the namespace short enough to leave room for
// repository names under oci.MaxNameLength.
const maxTenancyName = 63

func checkTenancyName(s string) error {
	if len(s) > maxTenancyName || strings.Contains(s, "/") || oci.ValidName(s) != nil {
		return invalid("tenancy name %q must be 1 to %d characters of a-z and 0-9, with single '.', '_' or '-' between them (it is the first segment of every repository name)", s, maxTenancyName)
	}
	return nil
}

func checkUserName(s string) error {
	if !userName.MatchString(s) {
		return invalid("user name %q must be 1 to 64 characters of letters, digits, '.', '_', '@', '+' and '-', starting with a letter or digit", s)
	}
	return nil
}

func checkGroupName(s string) error {
	if !groupName.MatchString(s) {
		return invalid("group name %q must be 1 to 100 characters of letters, digits, '.', '_' and '-'", s)
	}
	return nil
}

func checkPolicyName(s string) error {
	if !policyName.MatchString(s) {
		return invalid("policy name %q must be 1 to 100 characters of letters, digits, '.', '_' and '-', starting with a letter or digit", s)
	}
	return nil
}

// checkRepoName requires a valid name that starts with a tenancy
// namespace.
func checkRepoName(s string) error {
	if err := oci.ValidName(s); err != nil {
		return errcode.New(errcode.NameInvalid, "invalid repository name %q: %v", s, err)
	}
	if !strings.Contains(s, "/") {
		return errcode.New(errcode.NameInvalid, "repository name %q must start with its tenancy namespace: <tenancy>/%s", s, s)
	}
	return nil
}
