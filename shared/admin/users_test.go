package admin_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/store"
)

func TestUsersAndGroups(t *testing.T) {
	e := newEnv(t)
	users, groups := "/api/tenancies/dev/users", "/api/tenancies/dev/groups"
	e.run([]step{
		{name: "non-administrator cannot list users", as: "dev/alice", method: "GET", path: users, status: 403, code: "DENIED", has: "administrators"},
		{name: "non-administrator cannot create users", as: "dev/alice", method: "POST", path: users, body: map[string]any{"name": "eve"}, status: 403, code: "DENIED"},
		{name: "non-administrator cannot create groups", as: "dev/alice", method: "POST", path: groups, body: map[string]any{"name": "x"}, status: 403, code: "DENIED"},
		{name: "administrator creates a group", as: "dev/admin", method: "POST", path: groups, body: map[string]any{"name": "readers", "description": "pull only"}, status: 201, has: `"name":"readers"`},
		{name: "same group again → 409", as: "dev/admin", method: "POST", path: groups, body: map[string]any{"name": "readers"}, status: 409, code: "CONFLICT"},
		{name: "invalid group name → 400", as: "dev/admin", method: "POST", path: groups, body: map[string]any{"name": "a b"}, status: 400, code: "INVALID"},
		{name: "user in a missing group → 400 saying how to fix it", as: "dev/admin", method: "POST", path: users, body: map[string]any{"name": "ci", "groups": []string{"pushers"}}, status: 400, code: "INVALID", has: "berth groups create pushers"},
		{name: "invalid user name → 400", as: "dev/admin", method: "POST", path: users, body: map[string]any{"name": "ci/robot"}, status: 400, code: "INVALID"},
		{name: "administrator creates a user in a group", as: "dev/admin", method: "POST", path: users, body: map[string]any{"name": "ci", "groups": []string{"readers"}}, status: 201, has: `"groups":["readers"]`},
		{name: "same user again → 409", as: "dev/admin", method: "POST", path: users, body: map[string]any{"name": "ci"}, status: 409, code: "CONFLICT"},
		{name: "administrator lists users", as: "dev/admin", method: "GET", path: users, status: 200, has: `"login":"dev/ci"`},
		{name: "set-groups to a missing group → 400", as: "dev/admin", method: "PUT", path: users + "/alice", body: map[string]any{"groups": []string{"nope"}}, status: 400, code: "INVALID"},
		{name: "set-groups without a list → 400", as: "dev/admin", method: "PUT", path: users + "/alice", body: map[string]any{}, status: 400, code: "INVALID"},
		{name: "set-groups drops duplicates", as: "dev/admin", method: "PUT", path: users + "/alice", body: map[string]any{"groups": []string{"readers", "readers"}}, status: 200, has: `"groups":["readers"]`},
		{name: "set-groups on a missing user → 404", as: "dev/admin", method: "PUT", path: users + "/nobody", body: map[string]any{"groups": []string{}}, status: 404, code: "NOT_FOUND"},
		{name: "non-administrator cannot change membership", as: "dev/alice", method: "PUT", path: users + "/alice", body: map[string]any{"groups": []string{auth.AdminGroup}}, status: 403, code: "DENIED"},
		{name: "administrator cannot leave administrators", as: "dev/admin", method: "PUT", path: users + "/admin", body: map[string]any{"groups": []string{}}, status: 400, code: "INVALID"},
		{name: "a user reads itself", as: "dev/alice", method: "GET", path: users + "/alice", status: 200, has: `"groups":["readers"]`},
		{name: "a user cannot read another", as: "dev/alice", method: "GET", path: users + "/ci", status: 403, code: "DENIED"},
		{name: "members read groups", as: "dev/alice", method: "GET", path: groups, status: 200, has: `"name":"readers"`},
		{name: "members do not see group members", as: "dev/alice", method: "GET", path: groups + "/readers", status: 200, lacks: "members"},
		{name: "administrators see group members", as: "dev/admin", method: "GET", path: groups + "/readers", status: 200, has: `"members":["alice","ci"]`},
		{name: "group with members cannot be deleted", as: "dev/admin", method: "DELETE", path: groups + "/readers", status: 409, code: "CONFLICT", has: "alice, ci"},
		{name: "administrators group cannot be deleted", as: "dev/admin", method: "DELETE", path: groups + "/" + auth.AdminGroup, status: 400, code: "INVALID"},
		{name: "missing group → 404", as: "dev/admin", method: "GET", path: groups + "/nope", status: 404, code: "NOT_FOUND"},
		{name: "another tenancy's administrator cannot list users", as: "acme/admin", method: "GET", path: users, status: 403, code: "DENIED", has: "own tenancy"},
		{name: "another tenancy's administrator cannot create users", as: "acme/admin", method: "POST", path: users, body: map[string]any{"name": "mole"}, status: 403, code: "DENIED"},
		{name: "bootstrap administrator administers another tenancy", as: "dev/admin", method: "GET", path: "/api/tenancies/acme/users", status: 200, has: `"login":"acme/carol"`},
		{name: "administrator cannot delete itself", as: "dev/admin", method: "DELETE", path: users + "/admin", status: 400, code: "INVALID"},
		{name: "non-administrator cannot delete users", as: "dev/alice", method: "DELETE", path: users + "/ci", status: 403, code: "DENIED"},
		{name: "ci gets a token before it goes", as: "dev/admin", method: "POST", path: users + "/ci/tokens", body: map[string]any{}, status: 201},
		{name: "administrator deletes a user", as: "dev/admin", method: "DELETE", path: users + "/ci", status: 204},
		{name: "deleted user → 404", as: "dev/admin", method: "GET", path: users + "/ci", status: 404, code: "NOT_FOUND"},
		{name: "deleting again → 404", as: "dev/admin", method: "DELETE", path: users + "/ci", status: 404, code: "NOT_FOUND"},
		{name: "alice leaves readers", as: "dev/admin", method: "PUT", path: users + "/alice", body: map[string]any{"groups": []string{}}, status: 200, has: `"groups":[]`},
		{name: "empty group is deleted", as: "dev/admin", method: "DELETE", path: groups + "/readers", status: 204},
	})
	toks, err := e.meta.ListTokens(context.Background(), "dev", "ci")
	must(t, err)
	if len(toks) != 1 || !toks[0].Revoked {
		t.Errorf("tokens of the deleted user = %+v, want its one token revoked", toks)
	}
	hasAll(t, e.audit("dev"),
		"dev/admin create group readers", "dev/admin create user dev/ci", "dev/admin set groups dev/alice",
		"dev/admin delete user dev/ci", "dev/admin delete group readers")
}

func TestTokens(t *testing.T) {
	e := newEnv(t)
	mine, bobs := "/api/tenancies/dev/users/alice/tokens", "/api/tenancies/dev/users/bob/tokens"
	create := func(as, path string, body any) (string, string) {
		t.Helper()
		res := e.as(as, "POST", path, body)
		if res.status != 201 {
			t.Fatalf("create token as %s: %d %s", as, res.status, res.body)
		}
		var got struct {
			ID, Token, Login string
			Expires          time.Time
		}
		res.json(t, &got)
		id, secret, ok := auth.ParseAuthToken(got.Token)
		if !ok || id != got.ID {
			t.Fatalf("token %q is not an auth token with id %q", got.Token, got.ID)
		}
		stored, err := e.meta.GetToken(context.Background(), "dev", strings.Split(path, "/")[5], id)
		if err != nil || !auth.SecretMatches(stored.Hash, secret) || !stored.Expires.Equal(got.Expires) {
			t.Fatalf("stored %+v, %v; does not match the token answered", stored, err)
		}
		return id, got.Token
	}

	id1, _ := create("dev/alice", mine, map[string]any{"description": "laptop"})
	res := e.as("dev/alice", "POST", mine, map[string]any{"expiresInDays": 7})
	var second struct {
		ID      string
		Expires time.Time
	}
	res.json(t, &second)
	if res.status != 201 || time.Until(second.Expires) > 7*24*time.Hour || time.Until(second.Expires) < 6*24*time.Hour {
		t.Fatalf("7-day token: %d, expires %v", res.status, second.Expires)
	}
	e.run([]step{
		{name: "a third active token → 400 saying to revoke one", as: "dev/alice", method: "POST", path: mine, body: map[string]any{}, status: 400, code: "INVALID", has: "2 active"},
		{name: "administrators are held to the limit too", as: "dev/admin", method: "POST", path: mine, body: map[string]any{}, status: 400, code: "INVALID"},
		{name: "a user lists its tokens, never their hashes", as: "dev/alice", method: "GET", path: mine, status: 200, has: `"description":"laptop"`, lacks: `"hash":`},
		{name: "a user cannot list another's tokens", as: "dev/alice", method: "GET", path: bobs, status: 403, code: "DENIED"},
		{name: "a user cannot create another's tokens", as: "dev/alice", method: "POST", path: bobs, body: map[string]any{}, status: 403, code: "DENIED"},
		{name: "a user cannot revoke another's tokens", as: "dev/bob", method: "DELETE", path: mine + "/" + id1, status: 403, code: "DENIED"},
		{name: "another tenancy's administrator cannot create tokens here", as: "acme/admin", method: "POST", path: mine, body: map[string]any{}, status: 403, code: "DENIED"},
		{name: "zero days → 400", as: "dev/bob", method: "POST", path: bobs, body: map[string]any{"expiresInDays": 0}, status: 400, code: "INVALID", has: "expiresInDays"},
		{name: "too many days → 400", as: "dev/bob", method: "POST", path: bobs, body: map[string]any{"expiresInDays": 4000}, status: 400, code: "INVALID"},
		{name: "tokens of a missing user → 404", as: "dev/admin", method: "POST", path: "/api/tenancies/dev/users/nobody/tokens", body: map[string]any{}, status: 404, code: "NOT_FOUND"},
		{name: "a user revokes its token", as: "dev/alice", method: "DELETE", path: mine + "/" + id1, status: 204},
		{name: "revoking twice is fine", as: "dev/alice", method: "DELETE", path: mine + "/" + id1, status: 204},
		{name: "unknown token → 404", as: "dev/alice", method: "DELETE", path: mine + "/aaaaaaaaaaaaaaaa", status: 404, code: "NOT_FOUND"},
		{name: "a revoked token frees a slot", as: "dev/alice", method: "POST", path: mine, body: map[string]any{}, status: 201},
		{name: "an administrator revokes a user's token", as: "dev/admin", method: "DELETE", path: mine + "/" + second.ID, status: 204},
		{name: "an administrator creates a user's token", as: "dev/admin", method: "POST", path: mine, body: map[string]any{}, status: 201},
	})
	res = e.as("dev/alice", "GET", mine, nil)
	if strings.Contains(string(res.body), `"hash":`) {
		t.Errorf("token list shows hashes: %s", res.body)
	}
	var list struct {
		Tokens []struct{ Active, Revoked bool }
	}
	res.json(t, &list)
	active := 0
	for _, tk := range list.Tokens {
		if tk.Active {
			active++
		}
	}
	if len(list.Tokens) != 4 || active != 2 {
		t.Errorf("alice's tokens %+v: want 4, 2 active", list.Tokens)
	}

	// Expired tokens do not count against the limit.
	past := time.Now().Add(-time.Hour)
	for _, id := range []string{"expired000000001", "expired000000002"} {
		must(t, e.meta.PutToken(context.Background(), store.AuthToken{Tenancy: "dev", User: "bob", ID: id, Created: past.Add(-time.Hour), Expires: past}))
	}
	create("dev/bob", bobs, map[string]any{})
	create("dev/bob", bobs, map[string]any{})
	hasAll(t, e.audit("dev"), "dev/alice create token dev/alice", "dev/alice revoke token dev/alice", "dev/admin revoke token dev/alice")
}

func TestPolicies(t *testing.T) {
	e := newEnv(t)
	pols := "/api/tenancies/dev/policies"
	bad := "allow group readers to rread repos in tenancy"
	_, perr := auth.ParseStatement(bad)
	if perr == nil {
		t.Fatal("the bad statement parses")
	}
	good := map[string]any{"statements": []string{"allow group readers to read repos in tenancy", "allow group ci to use repos in tenancy where target.repo.name = /ci-*/"}}
	e.run([]step{
		{name: "non-administrator cannot write policies", as: "dev/alice", method: "PUT", path: pols + "/read", body: good, status: 403, code: "DENIED"},
		{name: "invalid statement → 400 with the column", as: "dev/admin", method: "PUT", path: pols + "/read", body: map[string]any{"statements": []string{"allow group readers to read repos in tenancy", bad}},
			status: 400, code: "INVALID", has: jsonText(t, "statement 2: "+perr.Error())},
		{name: "no statements → 400", as: "dev/admin", method: "PUT", path: pols + "/read", body: map[string]any{"statements": []string{}}, status: 400, code: "INVALID"},
		{name: "invalid policy name → 400", as: "dev/admin", method: "PUT", path: pols + "/a%20b", body: good, status: 400, code: "INVALID"},
		{name: "policy naming missing groups is stored, with warnings", as: "dev/admin", method: "PUT", path: pols + "/read", body: good, status: 200, has: `group \"readers\" does not exist`},
		{name: "POST of an existing policy → 409", as: "dev/admin", method: "POST", path: pols, body: map[string]any{"name": "read", "statements": []string{"allow group x to inspect repos in tenancy"}}, status: 409, code: "CONFLICT"},
		{name: "POST creates a policy", as: "dev/admin", method: "POST", path: pols, body: map[string]any{"name": "inspect", "statements": []string{"allow group x to inspect repos in tenancy"}}, status: 201},
		{name: "members read policies", as: "dev/alice", method: "GET", path: pols, status: 200, has: `target.repo.name = /ci-*/`},
		{name: "members read a policy", as: "dev/alice", method: "GET", path: pols + "/read", status: 200, has: `"name":"read"`},
		{name: "another tenancy cannot read them", as: "acme/admin", method: "GET", path: pols, status: 403, code: "DENIED"},
		{name: "another tenancy cannot write them", as: "acme/admin", method: "PUT", path: pols + "/mine", body: good, status: 403, code: "DENIED"},
		{name: "non-administrator cannot delete policies", as: "dev/alice", method: "DELETE", path: pols + "/read", status: 403, code: "DENIED"},
		{name: "administrator deletes a policy", as: "dev/admin", method: "DELETE", path: pols + "/read", status: 204},
		{name: "deleted policy → 404", as: "dev/admin", method: "GET", path: pols + "/read", status: 404, code: "NOT_FOUND"},
		{name: "deleting a missing policy → 404", as: "dev/admin", method: "DELETE", path: pols + "/read", status: 404, code: "NOT_FOUND"},
	})
	hasAll(t, e.audit("dev"), "dev/admin put policy read", "dev/admin put policy inspect", "dev/admin delete policy read")
}
