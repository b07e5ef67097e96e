package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"
)

// cacheRuleJSON is a pull-through cache rule as the admin API shows it (its
// credentials never; only whether it has some).
type cacheRuleJSON struct {
	Prefix          string    `json:"prefix"`
	Upstream        string    `json:"upstream"`
	Library         bool      `json:"library"`
	RefreshInterval string    `json:"refreshInterval"`
	Credentials     bool      `json:"credentials"`
	Created         time.Time `json:"created"`
	Updated         time.Time `json:"updated"`
}

var cacheRulesGroup = group{"cache-rules", "manage pull-through cache rules (docs/pull-through.md)", []command{
	{"list", "list the tenancy's cache rules", (*cli).cacheRulesList},
	{"get", "show a cache rule", (*cli).cacheRulesGet},
	{"create", "cache an upstream registry under a repository prefix", (*cli).cacheRulesCreate},
	{"update", "change a cache rule's upstream, mapping, refresh or credentials", (*cli).cacheRulesUpdate},
	{"delete", "delete a cache rule (the cached repositories stay)", (*cli).cacheRulesDelete},
}}

// cacheRulePath is the API path of the rule at prefix (slashes kept).
func (s *session) cacheRulePath(prefix string) string {
	return s.path("cache-rules") + "/" + repoPath(prefix)
}

func (c *cli) cacheRulesList(ctx context.Context, args []string) error {
	fs := c.flags("cache-rules list", "List the tenancy's pull-through cache rules (members).")
	_, s, err := c.open(fs, args, 0, 0, true)
	if err != nil {
		return err
	}
	var res struct {
		CacheRules []cacheRuleJSON `json:"cacheRules"`
	}
	if done, err := c.get(ctx, s, s.path("cache-rules"), nil, &res); done || err != nil {
		return err
	}
	var rows [][]string
	for _, r := range res.CacheRules {
		rows = append(rows, []string{r.Prefix, r.Upstream, yesNo(r.Library), r.RefreshInterval, yesNo(r.Credentials), when(r.Updated)})
	}
	c.table("PREFIX\tUPSTREAM\tLIBRARY/\tREFRESH\tCREDENTIALS\tUPDATED", rows)
	return nil
}

func (c *cli) cacheRulesGet(ctx context.Context, args []string) error {
	fs := c.flags("cache-rules get <prefix>", "Show a pull-through cache rule (members): never its credentials, only\nwhether it has some.")
	pos, s, err := c.open(fs, args, 1, 1, true)
	if err != nil {
		return err
	}
	var r cacheRuleJSON
	if done, err := c.get(ctx, s, s.cacheRulePath(pos[0]), nil, &r); done || err != nil {
		return err
	}
	c.printCacheRule(r)
	return nil
}

func (c *cli) printCacheRule(r cacheRuleJSON) {
	c.table("FIELD\tVALUE", [][]string{
		{"prefix", r.Prefix}, {"upstream", r.Upstream}, {"library/ mapping", yesNo(r.Library)},
		{"refresh interval", r.RefreshInterval}, {"credentials", yesNo(r.Credentials)},
		{"created", when(r.Created)}, {"updated", when(r.Updated)},
	})
}

// cacheRuleFlags are the flags create and update share.
type cacheRuleFlags struct {
	upstream, refresh, username *string
	library                     *string
	passwordStdin               *bool
}

func addCacheRuleFlags(fs *flag.FlagSet) cacheRuleFlags {
	return cacheRuleFlags{
		upstream: fs.String("upstream", "", "the upstream registry: a host (docker.io, ghcr.io) or https URL"),
		refresh:  fs.String("refresh", "", "how long a cached tag is served before the upstream is asked again (`duration`, default 15m)"),
		library:  fs.String("library", "", "map one-component names to library/ (`true|false`; default: true for Docker Hub)"),
		username: fs.String("username", "", "upstream `login` (with --password-stdin)"),
		passwordStdin: fs.Bool("password-stdin", false,
			"read the upstream password or token from stdin (stored encrypted, never shown again)"),
	}
}

// body is the JSON the flags set; credentials read from stdin.
func (c *cli) cacheRuleBody(f cacheRuleFlags, body map[string]any) error {
	if *f.upstream != "" {
		body["upstream"] = *f.upstream
	}
	if *f.refresh != "" {
		body["refreshInterval"] = *f.refresh
	}
	switch *f.library {
	case "":
	case "true", "false":
		body["library"] = *f.library == "true"
	default:
		return usagef("--library takes true or false, not %q", *f.library)
	}
	if (*f.username != "") != *f.passwordStdin {
		return usagef("upstream credentials take both --username and --password-stdin")
	}
	if *f.passwordStdin {
		b, err := io.ReadAll(io.LimitReader(c.stdin, 8192))
		if err != nil {
			return err
		}
		pw := strings.TrimSpace(string(b))
		if pw == "" {
			return errors.New("no upstream password on stdin")
		}
		body["credentials"] = map[string]string{"username": *f.username, "password": pw}
	}
	return nil
}

func (c *cli) cacheRulesCreate(ctx context.Context, args []string) error {
	fs := c.flags("cache-rules create <prefix>",
		"Make the repositories below <prefix> a pull-through cache of an upstream registry\n"+
			"(administrators). Pulls of <prefix>/<name> fetch <name> from the upstream on a miss.\n"+
			"Examples:\n"+
			"  berth cache-rules create dev/hub --upstream docker.io\n"+
			"  echo \"$GHCR_TOKEN\" | berth cache-rules create dev/ghcr --upstream ghcr.io --username bot --password-stdin")
	f := addCacheRuleFlags(fs)
	pos, s, err := c.open(fs, args, 1, 1, false)
	if err != nil {
		return err
	}
	if *f.upstream == "" {
		return usagef("berth cache-rules create needs --upstream (for example --upstream docker.io)")
	}
	body := map[string]any{"prefix": pos[0]}
	if err := c.cacheRuleBody(f, body); err != nil {
		return err
	}
	var r cacheRuleJSON
	if err := s.call(ctx, "POST", s.path("cache-rules"), nil, body, &r); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Created cache rule %s → %s (pull %s/<name>)\n", r.Prefix, r.Upstream, r.Prefix)
	return nil
}

func (c *cli) cacheRulesUpdate(ctx context.Context, args []string) error {
	fs := c.flags("cache-rules update <prefix>", "Change a pull-through cache rule (administrators): what the flags set.")
	f := addCacheRuleFlags(fs)
	remove := fs.Bool("remove-credentials", false, "make the upstream anonymous again")
	pos, s, err := c.open(fs, args, 1, 1, false)
	if err != nil {
		return err
	}
	body := map[string]any{}
	if err := c.cacheRuleBody(f, body); err != nil {
		return err
	}
	if *remove {
		body["removeCredentials"] = true
	}
	if len(body) == 0 {
		return usagef("berth cache-rules update needs a flag to change (see --help)")
	}
	var r cacheRuleJSON
	if err := s.call(ctx, "PATCH", s.cacheRulePath(pos[0]), nil, body, &r); err != nil {
		return err
	}
	c.printCacheRule(r)
	return nil
}

func (c *cli) cacheRulesDelete(ctx context.Context, args []string) error {
	fs := c.flags("cache-rules delete <prefix>", "Delete a pull-through cache rule (administrators). The repositories it\nfilled stay, as ordinary repositories.")
	pos, s, err := c.open(fs, args, 1, 1, false)
	if err != nil {
		return err
	}
	if err := s.call(ctx, "DELETE", s.cacheRulePath(pos[0]), nil, nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Deleted cache rule %s\n", pos[0])
	return nil
}
