package main

import (
	"context"
	"fmt"
	"net/url"
	"strings"
)

// tokenUser is the user a tokens verb acts on: --user, else the one
// logged in.
func tokenUser(s *session, user string) string {
	if user == "" {
		return s.settings.user()
	}
	return user
}

func (c *cli) tokensList(ctx context.Context, args []string) error {
	fs := c.flags("tokens list", "List a user's auth tokens (yours unless --user; administrators may name any\nuser of the tenancy). Secrets are never shown again.")
	user := fs.String("user", "", "the user whose tokens to list")
	_, s, err := c.open(fs, args, 0, 0, true)
	if err != nil {
		return err
	}
	var res struct {
		Tokens []tokenJSON `json:"tokens"`
	}
	if done, err := c.get(ctx, s, s.path("users", tokenUser(s, *user), "tokens"), nil, &res); done || err != nil {
		return err
	}
	var rows [][]string
	for _, t := range res.Tokens {
		state := "active"
		switch {
		case t.Revoked:
			state = "revoked"
		case !t.Active:
			state = "expired"
		}
		rows = append(rows, []string{t.ID, dash(t.Description), when(t.Created), expiry(t.Expires), state})
	}
	c.table("ID\tDESCRIPTION\tCREATED\tEXPIRES\tSTATE", rows)
	return nil
}

func (c *cli) tokensCreate(ctx context.Context, args []string) error {
	fs := c.flags("tokens create",
		"Create an auth token and print it on stdout; it is shown this once. A user holds\n"+
			"at most 2 active tokens. Use it as the password of docker login:\n"+
			"  berth tokens create --user ci | docker login <registry> -u <tenancy>/ci --password-stdin")
	user := fs.String("user", "", "the user to create the token for (default: you)")
	desc := fs.String("description", "", "what the token is for")
	days := fs.Int("expires-in-days", 365, "days until the token expires (1 to 3650)")
	_, s, err := c.open(fs, args, 0, 0, false)
	if err != nil {
		return err
	}
	u := tokenUser(s, *user)
	var t tokenJSON
	if err := s.call(ctx, "POST", s.path("users", u, "tokens"), nil, map[string]any{"description": *desc, "expiresInDays": *days}, &t); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, t.Token)
	fmt.Fprintf(c.stderr, "Created auth token %s for %s, expiring %s. It is shown once: store it now.\n", t.ID, t.Login, expiry(t.Expires))
	return nil
}

func (c *cli) tokensRevoke(ctx context.Context, args []string) error {
	fs := c.flags("tokens revoke <id>", "Revoke an auth token (see berth tokens list for ids). Logins with it stop\nworking within a minute.")
	user := fs.String("user", "", "the user the token belongs to (default: you)")
	pos, s, err := c.open(fs, args, 1, 1, false)
	if err != nil {
		return err
	}
	u := tokenUser(s, *user)
	if err := s.call(ctx, "DELETE", s.path("users", u, "tokens", pos[0]), nil, nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Revoked auth token %s of %s/%s\n", pos[0], s.tenancy, u)
	return nil
}

func (c *cli) policiesList(ctx context.Context, args []string) error {
	fs := c.flags("policies list", "List the tenancy's policies and their statements.")
	_, s, err := c.open(fs, args, 0, 0, true)
	if err != nil {
		return err
	}
	var res struct {
		Policies []policyJSON `json:"policies"`
	}
	if done, err := c.get(ctx, s, s.path("policies"), nil, &res); done || err != nil {
		return err
	}
	for _, p := range res.Policies {
		fmt.Fprintf(c.stdout, "%s (updated %s)\n", p.Name, when(p.Updated))
		for _, st := range p.Statements {
			fmt.Fprintf(c.stdout, "  %s\n", st)
		}
	}
	if len(res.Policies) == 0 {
		fmt.Fprintf(c.stderr, "No policies in tenancy %s; only its administrators have access.\n", s.tenancy)
	}
	return nil
}

func (c *cli) policiesGet(ctx context.Context, args []string) error {
	fs := c.flags("policies get <name>", "Print a policy's statements, one per line.")
	pos, s, err := c.open(fs, args, 1, 1, true)
	if err != nil {
		return err
	}
	var p policyJSON
	if done, err := c.get(ctx, s, s.path("policies", pos[0]), nil, &p); done || err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, strings.Join(p.Statements, "\n"))
	return nil
}

func (c *cli) policiesPut(ctx context.Context, args []string) error {
	fs := c.flags("policies put <name>",
		"Create or replace a policy (administrators only). Statements take OCIR's form:\n"+
			"  allow group <group> to <inspect|read|use|manage> repos in tenancy\n"+
			"      [where target.repo.name = '<name>' | where target.repo.name = /<pattern with *>/]\n"+
			"Example:\n"+
			"  berth policies put ci --statement 'allow group ci to read repos in tenancy'")
	var stmts multi
	fs.Var(&stmts, "statement", "a policy `statement` (repeatable; at least one)")
	pos, s, err := c.open(fs, args, 1, 1, false)
	if err != nil {
		return err
	}
	if len(stmts) == 0 {
		return usagef("berth policies put needs at least one --statement '...'")
	}
	var p policyJSON
	if err := s.call(ctx, "PUT", s.path("policies", pos[0]), nil, map[string]any{"statements": []string(stmts)}, &p); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Saved policy %s (%d statements)\n", p.Name, len(p.Statements))
	for _, w := range p.Warnings {
		fmt.Fprintf(c.stderr, "warning: %s\n", w)
	}
	return nil
}

func (c *cli) policiesDelete(ctx context.Context, args []string) error {
	fs := c.flags("policies delete <name>", "Delete a policy (administrators only).")
	pos, s, err := c.open(fs, args, 1, 1, false)
	if err != nil {
		return err
	}
	if err := s.call(ctx, "DELETE", s.path("policies", pos[0]), nil, nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Deleted policy %s\n", pos[0])
	return nil
}

func (c *cli) policiesCheck(ctx context.Context, args []string) error {
	fs := c.flags("policies check <group> <inspect|read|use|manage> <repository>", "Ask whether a member of a group may do a verb on a repository (administrators\n"+
		"only), answered by the authorizer's own decision over the policies as saved:\n  berth policies check ci use dev/team/app")
	pos, s, err := c.open(fs, args, 3, 3, true)
	if err != nil {
		return err
	}
	var res struct {
		Group, Verb, Repository, Holds string
		Allowed                        bool
		Because                        []string
	}
	q := url.Values{"group": {pos[0]}, "verb": {pos[1]}, "repository": {pos[2]}}
	if done, err := c.get(ctx, s, s.path("access-check"), q, &res); done || err != nil {
		return err
	}
	answer, holds := "No", "nothing"
	if res.Allowed {
		answer = "Yes"
	}
	if res.Holds != "" {
		holds = res.Holds
	}
	fmt.Fprintf(c.stdout, "%s: group %s %s %s %s (it holds %s there)\n", answer, res.Group, map[bool]string{true: "may", false: "may not"}[res.Allowed], res.Verb, res.Repository, holds)
	for _, b := range res.Because {
		fmt.Fprintf(c.stdout, "  because: %s\n", b)
	}
	return nil
}
