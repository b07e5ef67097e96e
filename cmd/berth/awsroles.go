package main

import (
	"context"
	"fmt"
	"time"
)

// mappingJSON is an AWS role mapping as the admin API shows it.
type mappingJSON struct {
	Name               string    `json:"name"`
	Login              string    `json:"login"`
	Role               string    `json:"role"`
	Group              string    `json:"group"`
	MaxLifetimeSeconds int       `json:"maxLifetimeSeconds"`
	Updated            time.Time `json:"updated"`
}

var awsRolesGroup = group{"aws-roles", "manage AWS role mappings: logins with AWS IAM roles (docs/auth.md)", []command{
	{"list", "list the tenancy's AWS role mappings", (*cli).awsRolesList},
	{"get", "show an AWS role mapping", (*cli).awsRolesGet},
	{"put", "create or replace an AWS role mapping", (*cli).awsRolesPut},
	{"delete", "delete an AWS role mapping", (*cli).awsRolesDelete},
}}

func (c *cli) awsRolesList(ctx context.Context, args []string) error {
	fs := c.flags("aws-roles list", "List the tenancy's AWS role mappings: which IAM roles log in as <tenancy>/aws\n(berth login --aws), acting as which group.")
	_, s, err := c.open(fs, args, 0, 0, true)
	if err != nil {
		return err
	}
	var res struct {
		Mappings []mappingJSON `json:"mappings"`
	}
	if done, err := c.get(ctx, s, s.path("aws-roles"), nil, &res); done || err != nil {
		return err
	}
	var rows [][]string
	for _, m := range res.Mappings {
		rows = append(rows, []string{m.Name, m.Role, m.Group, (time.Duration(m.MaxLifetimeSeconds) * time.Second).String()})
	}
	c.table("NAME\tROLE\tGROUP\tMAX LIFETIME", rows)
	if len(res.Mappings) == 0 {
		fmt.Fprintf(c.stderr, "No AWS role mappings in tenancy %s: AWS logins are refused. See berth aws-roles put --help.\n", s.tenancy)
	}
	return nil
}

func (c *cli) awsRolesGet(ctx context.Context, args []string) error {
	fs := c.flags("aws-roles get <name>", "Show an AWS role mapping.")
	pos, s, err := c.open(fs, args, 1, 1, true)
	if err != nil {
		return err
	}
	var m mappingJSON
	if done, err := c.get(ctx, s, s.path("aws-roles", pos[0]), nil, &m); done || err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "name:          %s\nlogin:         %s\nrole:          %s\ngroup:         %s\nmax lifetime:  %s\nupdated:       %s\n",
		m.Name, m.Login, m.Role, m.Group, time.Duration(m.MaxLifetimeSeconds)*time.Second, when(m.Updated))
	return nil
}

func (c *cli) awsRolesPut(ctx context.Context, args []string) error {
	fs := c.flags("aws-roles put <name>",
		"Create or replace an AWS role mapping (tenancy administrators only). A caller\n"+
			"acting as a role that --role names logs in as <tenancy>/aws (berth login --aws)\n"+
			"acting as --group. The role is an ARN without a path; its name may use *, its\n"+
			"account may not. Example:\n"+
			"  berth aws-roles put ci --role 'arn:aws:iam::123456789012:role/ci-*' --group ci")
	role := fs.String("role", "", "the role `ARN`: arn:aws:iam::<account>:role/<name or pattern>")
	grp := fs.String("group", "", "the `group` whose policies apply to the login")
	lifetime := fs.Duration("max-lifetime", 15*time.Minute, "longest life of a registry token issued under the mapping (1m to 12h)")
	pos, s, err := c.open(fs, args, 1, 1, false)
	if err != nil {
		return err
	}
	switch {
	case *role == "" || *grp == "":
		return usagef("berth aws-roles put needs --role and --group")
	case *lifetime%time.Second != 0:
		return usagef("berth aws-roles put: --max-lifetime is counted in whole seconds")
	}
	body := map[string]any{"role": *role, "group": *grp, "maxLifetimeSeconds": int(lifetime.Seconds())}
	var m mappingJSON
	if err := s.call(ctx, "PUT", s.path("aws-roles", pos[0]), nil, body, &m); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Saved AWS role mapping %s: %s logs in as %s acting as group %s\n", m.Name, m.Role, m.Login, m.Group)
	return nil
}

func (c *cli) awsRolesDelete(ctx context.Context, args []string) error {
	fs := c.flags("aws-roles delete <name>", "Delete an AWS role mapping (tenancy administrators only). Logins it let in stop\nwithin 20 seconds; registry tokens already issued live out their lifetime.")
	pos, s, err := c.open(fs, args, 1, 1, false)
	if err != nil {
		return err
	}
	if err := s.call(ctx, "DELETE", s.path("aws-roles", pos[0]), nil, nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Deleted AWS role mapping %s\n", pos[0])
	return nil
}
