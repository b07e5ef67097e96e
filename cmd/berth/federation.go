package main

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
)

// ruleJSON is a federation rule as the admin API shows it.
type ruleJSON struct {
	Name               string            `json:"name"`
	Login              string            `json:"login"`
	Issuer             string            `json:"issuer"`
	Audience           string            `json:"audience"`
	Claims             map[string]string `json:"claims"`
	Group              string            `json:"group"`
	MaxLifetimeSeconds int               `json:"maxLifetimeSeconds"`
	JWKSHosts          []string          `json:"jwksHosts"`
	Updated            time.Time         `json:"updated"`
}

// conditions formats a rule's claim conditions, sorted.
func conditions(m map[string]string) string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+"="+m[k])
	}
	return strings.Join(out, " ")
}

var federationGroup = group{"federation", "manage federation rules: keyless logins with OIDC tokens (docs/keyless.md)", []command{
	{"list", "list the tenancy's federation rules", (*cli).federationList},
	{"get", "show a federation rule", (*cli).federationGet},
	{"put", "create or replace a federation rule", (*cli).federationPut},
	{"delete", "delete a federation rule", (*cli).federationDelete},
}}

func (c *cli) federationList(ctx context.Context, args []string) error {
	fs := c.flags("federation list", "List the tenancy's federation rules: which OIDC issuers' tokens log in as\n<tenancy>/oidc, on which conditions, acting as which group.")
	_, s, err := c.open(fs, args, 0, 0, true)
	if err != nil {
		return err
	}
	var res struct {
		Rules []ruleJSON `json:"rules"`
	}
	if done, err := c.get(ctx, s, s.path("federation-rules"), nil, &res); done || err != nil {
		return err
	}
	var rows [][]string
	for _, r := range res.Rules {
		rows = append(rows, []string{r.Name, r.Issuer, r.Audience, conditions(r.Claims), r.Group, (time.Duration(r.MaxLifetimeSeconds) * time.Second).String()})
	}
	c.table("NAME\tISSUER\tAUDIENCE\tCLAIMS\tGROUP\tMAX LIFETIME", rows)
	if len(res.Rules) == 0 {
		fmt.Fprintf(c.stderr, "No federation rules in tenancy %s: keyless logins are refused. See berth federation put --help.\n", s.tenancy)
	}
	return nil
}

func (c *cli) federationGet(ctx context.Context, args []string) error {
	fs := c.flags("federation get <name>", "Show a federation rule.")
	pos, s, err := c.open(fs, args, 1, 1, true)
	if err != nil {
		return err
	}
	var r ruleJSON
	if done, err := c.get(ctx, s, s.path("federation-rules", pos[0]), nil, &r); done || err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "name:          %s\nlogin:         %s\nissuer:        %s\naudience:      %s\nclaims:        %s\ngroup:         %s\nmax lifetime:  %s\n",
		r.Name, r.Login, r.Issuer, r.Audience, conditions(r.Claims), r.Group, time.Duration(r.MaxLifetimeSeconds)*time.Second)
	if len(r.JWKSHosts) > 0 {
		fmt.Fprintf(c.stdout, "jwks hosts:    %s\n", strings.Join(r.JWKSHosts, " "))
	}
	fmt.Fprintf(c.stdout, "updated:       %s\n", when(r.Updated))
	return nil
}

func (c *cli) federationPut(ctx context.Context, args []string) error {
	fs := c.flags("federation put <name>",
		"Create or replace a federation rule (tenancy administrators only). A token signed\n"+
			"by the issuer, for the audience, whose claims meet every --claim, logs in as\n"+
			"<tenancy>/oidc acting as --group. Example (GitHub Actions):\n"+
			"  berth federation put gha --issuer https://token.actions.githubusercontent.com \\\n"+
			"    --audience https://registry.example.com --group ci \\\n"+
			"    --claim repository=acme/app --claim 'ref=refs/heads/main'")
	issuer := fs.String("issuer", "", "the issuer `URL`, exactly as the tokens' iss claim")
	audience := fs.String("audience", "", "the `value` the tokens' aud claim must hold")
	grp := fs.String("group", "", "the `group` whose policies apply to the login")
	lifetime := fs.Duration("max-lifetime", 15*time.Minute, "longest life of a registry token issued under the rule (1m to 12h)")
	var claims, hosts multi
	fs.Var(&claims, "claim", "a condition `name=value` (repeatable; '*' in the value matches anything)")
	fs.Var(&hosts, "jwks-host", "a `host` besides the issuer's that may serve its keys (repeatable)")
	pos, s, err := c.open(fs, args, 1, 1, false)
	if err != nil {
		return err
	}
	switch {
	case *issuer == "" || *audience == "" || *grp == "":
		return usagef("berth federation put needs --issuer, --audience and --group")
	case len(claims) == 0:
		return usagef("berth federation put needs at least one --claim name=value")
	case *lifetime%time.Second != 0:
		return usagef("berth federation put: --max-lifetime is counted in whole seconds")
	}
	conds := map[string]string{}
	for _, cl := range claims {
		k, v, ok := strings.Cut(cl, "=")
		if !ok || k == "" {
			return usagef("berth federation put: --claim %q must be name=value", cl)
		}
		conds[k] = v
	}
	body := map[string]any{"issuer": *issuer, "audience": *audience, "group": *grp, "claims": conds,
		"maxLifetimeSeconds": int(lifetime.Seconds()), "jwksHosts": []string(hosts)}
	var r ruleJSON
	if err := s.call(ctx, "PUT", s.path("federation-rules", pos[0]), nil, body, &r); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Saved federation rule %s: tokens from %s log in as %s acting as group %s\n", r.Name, r.Issuer, r.Login, r.Group)
	return nil
}

func (c *cli) federationDelete(ctx context.Context, args []string) error {
	fs := c.flags("federation delete <name>", "Delete a federation rule (tenancy administrators only). Logins it let in stop\nwithin 20 seconds; registry tokens already issued live out their lifetime.")
	pos, s, err := c.open(fs, args, 1, 1, false)
	if err != nil {
		return err
	}
	if err := s.call(ctx, "DELETE", s.path("federation-rules", pos[0]), nil, nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Deleted federation rule %s\n", pos[0])
	return nil
}
