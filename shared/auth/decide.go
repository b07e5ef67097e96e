package auth

import (
	"slices"
	"strings"

	"github.com/berth-registry/berth/shared/route"
)

// Principal is who a request is from.
type Principal struct {
	// Tenancy is the namespace the principal belongs to ("" when
	// anonymous).
	Tenancy string `json:"tenancy,omitempty"`
	// User is the user name within the tenancy.
	User string `json:"user,omitempty"`
	// Groups are the user's groups in the tenancy.
	Groups []string `json:"groups,omitempty"`
}

// Anonymous reports whether the principal presented no credentials.
func (p Principal) Anonymous() bool { return p.User == "" }

// String is the login name, "<tenancy>/<user>", or "anonymous".
func (p Principal) String() string {
	if p.Anonymous() {
		return "anonymous"
	}
	return p.Tenancy + "/" + p.User
}

// IsAdmin reports whether the principal is in its tenancy's
// administrators group.
func (p Principal) IsAdmin() bool { return slices.Contains(p.Groups, AdminGroup) }

// VerbFor is the verb an action of the route table needs.
func VerbFor(action string) Verb {
	switch action {
	case route.ActionPull:
		return Read
	case route.ActionPush:
		return Use
	case route.ActionDelete:
		return Manage
	case route.ActionCatalog:
		return Inspect
	}
	return Manage
}

// SplitRepo splits a repository name into its tenancy namespace and the
// rest ("dev/team/app" → "dev", "team/app").
func SplitRepo(name string) (tenancy, rest string) {
	tenancy, rest, _ = strings.Cut(name, "/")
	return tenancy, rest
}

// RepoAccess is the strongest verb the principal holds on the repository
// (full name, namespace first) under the tenancy's policy statements; 0
// when none. Public repositories give everyone Read. Another tenancy's
// repositories give nothing beyond that.
func RepoAccess(p Principal, stmts []Statement, repo string, public bool) Verb {
	var v Verb
	if public {
		v = Read
	}
	tenancy, rest := SplitRepo(repo)
	if p.Anonymous() || tenancy != p.Tenancy || rest == "" {
		return v
	}
	if p.IsAdmin() {
		return Manage
	}
	for _, s := range stmts {
		if s.Verb > v && slices.Contains(p.Groups, s.Group) && s.Matches(rest) {
			v = s.Verb
		}
	}
	return v
}

// TenancyAccess is the strongest verb the principal holds on some
// repositories of its tenancy (for the catalog: inspect anywhere lets it
// list the repositories its statements cover).
func TenancyAccess(p Principal, stmts []Statement) Verb {
	if p.Anonymous() {
		return 0
	}
	if p.IsAdmin() {
		return Manage
	}
	var v Verb
	for _, s := range stmts {
		if s.Verb > v && slices.Contains(p.Groups, s.Group) {
			v = s.Verb
		}
	}
	return v
}
