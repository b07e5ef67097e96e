package iamlogin

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"

	"github.com/berth-registry/berth/shared/auth"
)

// ErrNotRole refuses a caller that is not acting as an IAM role: an IAM
// user, an account's root, a federated user.
var ErrNotRole = errors.New("the caller is not an IAM role")

// The grammars compile on first use, not at package init: every
// function that links the authorizer's package links this one, and
// their {1,64} repetitions cost about 1.5 ms of init (a cold start) to
// functions that never see an IAM login.
var (
	// assumedRole is an STS caller ARN of a role session:
	// arn:<partition>:sts::<account>:assumed-role/<role name>/<session>.
	assumedRole = lazyRegexp(`^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):sts::([0-9]{12}):assumed-role/([\w+=,.@-]{1,64})/[\w+=,.@-]{1,64}$`)
	// rolePattern is what a mapping may name: a role ARN without a
	// path (an assumed-role ARN carries none), '*' allowed in the name.
	rolePattern = lazyRegexp(`^arn:(aws|aws-cn|aws-us-gov|aws-iso|aws-iso-b|aws-iso-e|aws-iso-f|aws-eusc):iam::([0-9]{12}):role/([\w+=,.@*-]{1,64})$`)
)

// RoleARN is the role a caller acts as: an assumed-role ARN normalised
// to its role's ARN (arn:<partition>:iam::<account>:role/<name>). The
// role's path is not in a session's ARN, so it is not in the result.
// Any other caller (an IAM user, root, a federated user) is ErrNotRole.
func RoleARN(caller string) (string, error) {
	m := assumedRole().FindStringSubmatch(caller)
	if m == nil {
		return "", fmt.Errorf("%w: %s", ErrNotRole, clip(caller))
	}
	return "arn:" + m[1] + ":iam::" + m[2] + ":role/" + m[3], nil
}

// CheckPattern checks a mapping's role: a role ARN without a path,
// whose name may hold '*' (any characters); the partition and account
// are always literal, so a pattern never reaches another account.
func CheckPattern(p string) error {
	if strings.HasPrefix(p, "arn:") && strings.Contains(p, ":role/") && strings.Count(p[strings.Index(p, ":role/")+6:], "/") > 0 {
		return errors.New("a role path cannot be matched: an assumed role's ARN carries only the role's name, so name the role as arn:aws:iam::<account>:role/<name>")
	}
	if !rolePattern().MatchString(p) {
		return errors.New("name a role as arn:aws:iam::<12-digit account>:role/<name>, the name exact or with * (such as ci-*); the account cannot be a pattern")
	}
	return nil
}

// Matches reports whether a mapping's role pattern names role (a
// RoleARN result).
func Matches(pattern, role string) bool {
	i := strings.Index(pattern, ":role/")
	if i < 0 || !strings.HasPrefix(role, pattern[:i+len(":role/")]) {
		return false
	}
	return auth.GlobMatch(pattern, role)
}

// lazyRegexp is a regular expression compiled when first asked for.
func lazyRegexp(expr string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(expr) })
}
