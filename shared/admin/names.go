package admin

import (
	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/errcode"
)

// The admin API checks every name in a path, query or body with auth's
// grammar before it reaches the store, and answers a bad one 400
// INVALID (NAME_INVALID for a repository) saying what the name must be.

func checkTenancyName(s string) error { return invalidIf(auth.CheckTenancy(s)) }

func checkUserName(s string) error { return invalidIf(auth.CheckUser(s)) }

func checkGroupName(s string) error { return invalidIf(auth.CheckGroup(s)) }

func checkPolicyName(s string) error { return invalidIf(auth.CheckPolicyName(s)) }

// checkRepoName requires a name the registry serves, in a tenancy.
func checkRepoName(s string) error {
	if err := auth.CheckRepository(s); err != nil {
		return errcode.New(errcode.NameInvalid, "%v", err)
	}
	return nil
}

func invalidIf(err error) error {
	if err != nil {
		return invalid("%v", err)
	}
	return nil
}
