package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// The admin API's answers, as far as the commands print them.
type (
	userJSON struct {
		Name    string    `json:"name"`
		Login   string    `json:"login"`
		Groups  []string  `json:"groups"`
		Created time.Time `json:"created"`
	}
	groupJSON struct {
		Name        string    `json:"name"`
		Description string    `json:"description"`
		Created     time.Time `json:"created"`
		Members     []string  `json:"members"`
	}
	tokenJSON struct {
		ID          string    `json:"id"`
		Token       string    `json:"token"`
		Login       string    `json:"login"`
		Description string    `json:"description"`
		Created     time.Time `json:"created"`
		Expires     time.Time `json:"expires"`
		Revoked     bool      `json:"revoked"`
		Active      bool      `json:"active"`
	}
	policyJSON struct {
		Name       string    `json:"name"`
		Statements []string  `json:"statements"`
		Updated    time.Time `json:"updated"`
		Warnings   []string  `json:"warnings"`
	}
)

// session is what a verb works with: the API client, the tenancy it acts
// in, and whether to print raw JSON.
type session struct {
	*client
	tenancy string
	json    bool
}

// open parses a verb's flags, adding --tenancy and (for verbs that
// print) --json, and returns its positional arguments and session.
func (c *cli) open(fs *flag.FlagSet, args []string, min, max int, printing bool) ([]string, *session, error) {
	t := fs.String("tenancy", "", "the `tenancy` to act in (default: the one you logged in to)")
	var asJSON *bool
	if printing {
		asJSON = fs.Bool("json", false, "print the API's JSON answer")
	}
	pos, err := c.parse(fs, args, min, max)
	if err != nil {
		return nil, nil, err
	}
	cl, err := c.client()
	if err != nil {
		return nil, nil, err
	}
	s := &session{client: cl, tenancy: *t, json: asJSON != nil && *asJSON}
	if s.tenancy == "" {
		s.tenancy = cl.settings.tenancy()
	}
	return pos, s, nil
}

// path is the API path of something in the session's tenancy.
func (s *session) path(parts ...string) string {
	p := "/api/tenancies/" + seg(s.tenancy)
	for _, x := range parts {
		p += "/" + seg(x)
	}
	return p
}

// get fetches path and prints it as JSON when asked, else decodes it.
func (c *cli) get(ctx context.Context, s *session, path string, q url.Values, out any) (printed bool, err error) {
	var raw json.RawMessage
	if err := s.call(ctx, "GET", path, q, nil, &raw); err != nil {
		return false, err
	}
	if s.json {
		return true, c.printJSON(raw)
	}
	return false, json.Unmarshal(raw, out)
}

func (c *cli) tenanciesList(ctx context.Context, args []string) error {
	fs := c.flags("tenancies list", "List the tenancies you can see: all of them for administrators of the\nbootstrap tenancy, else your own.")
	_, s, err := c.open(fs, args, 0, 0, true)
	if err != nil {
		return err
	}
	var res struct {
		Tenancies []struct {
			Name    string    `json:"name"`
			Created time.Time `json:"created"`
		} `json:"tenancies"`
	}
	if done, err := c.get(ctx, s, "/api/tenancies", nil, &res); done || err != nil {
		return err
	}
	var rows [][]string
	for _, t := range res.Tenancies {
		rows = append(rows, []string{t.Name, when(t.Created)})
	}
	c.table("NAME\tCREATED", rows)
	return nil
}

func (c *cli) tenanciesCreate(ctx context.Context, args []string) error {
	fs := c.flags("tenancies create <name>", "Create a tenancy (administrators of the bootstrap tenancy only) with an\nadministrators group and user admin, and print admin's first auth token.")
	pos, s, err := c.open(fs, args, 1, 1, false)
	if err != nil {
		return err
	}
	var res struct {
		Login string    `json:"login"`
		Token tokenJSON `json:"token"`
	}
	if err := s.call(ctx, "POST", "/api/tenancies", nil, map[string]string{"name": pos[0]}, &res); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, res.Token.Token)
	fmt.Fprintf(c.stderr, "Created tenancy %s. Its administrator logs in as %s with the token above (shown once; expires %s).\n",
		pos[0], res.Login, expiry(res.Token.Expires))
	return nil
}

func (c *cli) usersList(ctx context.Context, args []string) error {
	fs := c.flags("users list", "List the tenancy's users and their groups (administrators only).")
	_, s, err := c.open(fs, args, 0, 0, true)
	if err != nil {
		return err
	}
	var res struct {
		Users []userJSON `json:"users"`
	}
	if done, err := c.get(ctx, s, s.path("users"), nil, &res); done || err != nil {
		return err
	}
	var rows [][]string
	for _, u := range res.Users {
		rows = append(rows, []string{u.Login, dash(strings.Join(u.Groups, ",")), when(u.Created)})
	}
	c.table("LOGIN\tGROUPS\tCREATED", rows)
	return nil
}

func (c *cli) usersGet(ctx context.Context, args []string) error {
	fs := c.flags("users get <name>", "Show a user and its groups.")
	pos, s, err := c.open(fs, args, 1, 1, true)
	if err != nil {
		return err
	}
	var u userJSON
	if done, err := c.get(ctx, s, s.path("users", pos[0]), nil, &u); done || err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Login:   %s\nGroups:  %s\nCreated: %s\n", u.Login, dash(strings.Join(u.Groups, ", ")), when(u.Created))
	return nil
}

func (c *cli) usersCreate(ctx context.Context, args []string) error {
	fs := c.flags("users create <name>", "Create a user (administrators only). It logs in as <tenancy>/<name> with an\nauth token: create one with berth tokens create --user <name>.")
	var groups multi
	fs.Var(&groups, "group", "a `group` to put the user in (repeatable)")
	pos, s, err := c.open(fs, args, 1, 1, false)
	if err != nil {
		return err
	}
	var u userJSON
	if err := s.call(ctx, "POST", s.path("users"), nil, map[string]any{"name": pos[0], "groups": []string(groups)}, &u); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Created user %s (groups: %s). Give it an auth token: berth tokens create --user %s\n", u.Login, dash(strings.Join(u.Groups, ", ")), u.Name)
	return nil
}

func (c *cli) usersDelete(ctx context.Context, args []string) error {
	fs := c.flags("users delete <name>", "Delete a user and revoke its auth tokens (administrators only).")
	pos, s, err := c.open(fs, args, 1, 1, false)
	if err != nil {
		return err
	}
	if err := s.call(ctx, "DELETE", s.path("users", pos[0]), nil, nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Deleted user %s/%s and revoked its auth tokens\n", s.tenancy, pos[0])
	return nil
}

func (c *cli) usersSetGroups(ctx context.Context, args []string) error {
	fs := c.flags("users set-groups <name> [<group>...]", "Set the groups a user is in, replacing its current ones (administrators only).\nWith no groups, the user leaves every group.")
	pos, s, err := c.open(fs, args, 1, -1, false)
	if err != nil {
		return err
	}
	var u userJSON
	if err := s.call(ctx, "PUT", s.path("users", pos[0]), nil, map[string]any{"groups": append([]string{}, pos[1:]...)}, &u); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "%s is in groups: %s\n", u.Login, dash(strings.Join(u.Groups, ", ")))
	return nil
}

func (c *cli) groupsList(ctx context.Context, args []string) error {
	fs := c.flags("groups list", "List the tenancy's groups.")
	_, s, err := c.open(fs, args, 0, 0, true)
	if err != nil {
		return err
	}
	var res struct {
		Groups []groupJSON `json:"groups"`
	}
	if done, err := c.get(ctx, s, s.path("groups"), nil, &res); done || err != nil {
		return err
	}
	var rows [][]string
	for _, g := range res.Groups {
		rows = append(rows, []string{g.Name, dash(g.Description), when(g.Created)})
	}
	c.table("NAME\tDESCRIPTION\tCREATED", rows)
	return nil
}

func (c *cli) groupsGet(ctx context.Context, args []string) error {
	fs := c.flags("groups get <name>", "Show a group (and, to administrators, its members).")
	pos, s, err := c.open(fs, args, 1, 1, true)
	if err != nil {
		return err
	}
	var g groupJSON
	if done, err := c.get(ctx, s, s.path("groups", pos[0]), nil, &g); done || err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Name:        %s\nDescription: %s\nCreated:     %s\nMembers:     %s\n", g.Name, dash(g.Description), when(g.Created), dash(strings.Join(g.Members, ", ")))
	return nil
}

func (c *cli) groupsCreate(ctx context.Context, args []string) error {
	fs := c.flags("groups create <name>", "Create a group (administrators only). Grant it access with a policy:\n  berth policies put <policy> --statement 'allow group <name> to read repos in tenancy'")
	desc := fs.String("description", "", "what the group is for")
	pos, s, err := c.open(fs, args, 1, 1, false)
	if err != nil {
		return err
	}
	if err := s.call(ctx, "POST", s.path("groups"), nil, map[string]string{"name": pos[0], "description": *desc}, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Created group %s in tenancy %s\n", pos[0], s.tenancy)
	return nil
}

func (c *cli) groupsDelete(ctx context.Context, args []string) error {
	fs := c.flags("groups delete <name>", "Delete a group that has no members (administrators only).")
	pos, s, err := c.open(fs, args, 1, 1, false)
	if err != nil {
		return err
	}
	if err := s.call(ctx, "DELETE", s.path("groups", pos[0]), nil, nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Deleted group %s\n", pos[0])
	return nil
}

func (c *cli) audit(ctx context.Context, args []string) error {
	fs := c.flags("audit", "Show the tenancy's audit trail, newest first (administrators only).")
	limit := fs.Int("limit", 50, "events to show (1 to 1000)")
	before := fs.String("before", "", "show events older than this event id (from a previous page)")
	principal := fs.String("principal", "", "only events by a principal holding this text")
	action := fs.String("action", "", "only events whose action holds this text (push, revoke token, ...)")
	target := fs.String("target", "", "only events whose target holds this text")
	_, s, err := c.open(fs, args, 0, 0, true)
	if err != nil {
		return err
	}
	q := url.Values{"limit": {fmt.Sprint(*limit)}}
	for k, v := range map[string]string{"before": *before, "principal": *principal, "action": *action, "target": *target} {
		if v != "" {
			q.Set(k, v)
		}
	}
	var res struct {
		Events []struct {
			ID, Principal, Action, Target, Detail string
			Time                                  time.Time
		} `json:"events"`
		Next string `json:"next"`
	}
	if done, err := c.get(ctx, s, s.path("audit"), q, &res); done || err != nil {
		return err
	}
	var rows [][]string
	for _, e := range res.Events {
		rows = append(rows, []string{stamp(e.Time), e.Principal, e.Action, dash(e.Target), e.Detail})
	}
	c.table("TIME\tPRINCIPAL\tACTION\tTARGET\tDETAIL", rows)
	if res.Next != "" {
		fmt.Fprintf(c.stderr, "Older events: berth audit --before %s (with the same filters)\n", res.Next)
	}
	return nil
}
