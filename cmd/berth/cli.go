package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// cli runs the admin commands; its fields are what a command touches of
// the outside world, so tests run commands in-process.
type cli struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	http           *http.Client
}

func newCLI() *cli {
	return &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv,
		http: &http.Client{Timeout: 60 * time.Second}}
}

// command is one verb ("users create") or a command without verbs
// ("login").
type command struct {
	name, summary string
	run           func(c *cli, ctx context.Context, args []string) error
}

// group is a noun with verbs ("users").
type group struct {
	name, summary string
	verbs         []command
}

// groups are the commands with verbs, in the order usage lists them.
var groups = []group{
	{"tenancies", "list and create tenancies", []command{
		{"list", "list tenancies", (*cli).tenanciesList},
		{"create", "create a tenancy with an administrator and print its first auth token", (*cli).tenanciesCreate},
	}},
	{"users", "manage users", []command{
		{"list", "list the tenancy's users", (*cli).usersList},
		{"get", "show a user", (*cli).usersGet},
		{"create", "create a user", (*cli).usersCreate},
		{"delete", "delete a user and revoke its auth tokens", (*cli).usersDelete},
		{"set-groups", "set the groups a user is in", (*cli).usersSetGroups},
	}},
	{"groups", "manage groups", []command{
		{"list", "list the tenancy's groups", (*cli).groupsList},
		{"get", "show a group and its members", (*cli).groupsGet},
		{"create", "create a group", (*cli).groupsCreate},
		{"delete", "delete a group without members", (*cli).groupsDelete},
	}},
	{"tokens", "manage auth tokens (docker login passwords)", []command{
		{"list", "list a user's auth tokens", (*cli).tokensList},
		{"create", "create an auth token and print it (shown once)", (*cli).tokensCreate},
		{"revoke", "revoke an auth token", (*cli).tokensRevoke},
	}},
	{"policies", "manage policies (OCIR statements)", []command{
		{"list", "list the tenancy's policies", (*cli).policiesList},
		{"get", "show a policy's statements", (*cli).policiesGet},
		{"put", "create or replace a policy", (*cli).policiesPut},
		{"delete", "delete a policy", (*cli).policiesDelete},
	}},
	federationGroup,
	awsRolesGroup,
	{"repos", "manage repositories", []command{
		{"list", "list repositories", (*cli).reposList},
		{"get", "show a repository's settings, tags and manifests", (*cli).reposGet},
		{"create", "create a repository", (*cli).reposCreate},
		{"set", "change a repository's visibility or tag immutability", (*cli).reposSet},
		{"delete", "delete a repository with its tags and manifests", (*cli).reposDelete},
	}},
	retentionGroup,
	blobsGroup,
	usageGroup,
	cacheRulesGroup,
}

// topCommand is a command without verbs, with the arguments usage
// shows for it.
type topCommand struct {
	command
	synopsis string
}

// commands are the commands without verbs, in the order usage lists
// them (before the groups).
var commands = []topCommand{
	{command{"serve", "run the local gateway with every function (make run; --lambda: make run-lambda)", (*cli).serve}, ""},
	{command{"bootstrap", "create the first tenancy, its admin and an auth token in the configured store (once, after the first deploy on AWS)", (*cli).bootstrap}, ""},
	{command{"push", "push a docker-archive, OCI layout or local docker image of any size straight to storage (docs/large-layers.md)", (*cli).push},
		"<source> <[registry/]repo[:tag]>"},
	{command{"proxy", "a local registry endpoint: an unchanged docker push sends layers of any size through it", (*cli).proxy}, "[--listen 127.0.0.1:5001]"},
	{command{"doctor", "check a deployed registry's front door (docs/doctor.md)", (*cli).doctor}, "<url> [-u <tenancy>/<user> --password-stdin]"},
	{command{"login", "log in to a registry's admin API and save the credentials", (*cli).login}, "<url> -u <tenancy>/<user> --password-stdin | --aws <url> -u <tenancy>"},
	{command{"credential-helper", "docker's credential helper over the saved login (as docker-credential-berth; docs/auth.md)", (*cli).credentialHelper}, "get|store|erase|list"},
	{command{"aws-token", "print a fresh AWS IAM login token (for docker login -u <tenancy>/aws)", (*cli).awsTokenCmd}, ""},
	{command{"logout", "forget the saved credentials", (*cli).logout}, ""},
	{command{"audit", "show the tenancy's audit trail", (*cli).audit}, ""},
}

// usage is `berth --help`: generated from the same tables that
// dispatch, so it names no command that does not run.
func usage() string {
	var b strings.Builder
	b.WriteString("berth — a serverless OCI registry\n\nUsage:\n")
	line := func(head, text string) {
		const col = 20
		if len(head) <= col-4 {
			fmt.Fprintf(&b, "  %-*s%s\n", col-2, head, wrap(text, col))
			return
		}
		fmt.Fprintf(&b, "  %s\n%*s%s\n", head, col, "", wrap(text, col))
	}
	for _, c := range commands {
		line(strings.TrimSpace("berth "+c.name+" "+c.synopsis), c.summary)
	}
	for _, g := range groups {
		var verbs []string
		for _, v := range g.verbs {
			verbs = append(verbs, v.name)
		}
		line("berth "+g.name, strings.Join(verbs, " | "))
	}
	b.WriteString("\nRun \"berth <command> --help\" for a command's verbs and flags. The admin\n" +
		"commands and the model behind them are described in docs/auth.md,\n" +
		"retention in docs/retention.md, pull-through caches in docs/pull-through.md,\n" +
		"configuration (for serve and bootstrap) in docs/configuration.md.\n")
	return b.String()
}

// wrap breaks text into lines of at most 78 columns, continuing at
// column indent.
func wrap(text string, indent int) string {
	var b strings.Builder
	n := indent
	for i, w := range strings.Fields(text) {
		if i > 0 && n+1+len(w) > 78 {
			fmt.Fprintf(&b, "\n%*s", indent, "")
			n = indent
		} else if i > 0 {
			b.WriteByte(' ')
			n++
		}
		b.WriteString(w)
		n += len(w)
	}
	return b.String()
}

// errHelp says help was asked for and printed: exit 0.
var errHelp = errors.New("help shown")

// usageError is a command line that does not parse: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// run runs one command line (without the program name); ok is false
// when args name no command.
func (c *cli) run(ctx context.Context, args []string) (ok bool, err error) {
	if len(args) == 0 {
		return false, nil
	}
	if isHelp(args[0]) {
		fmt.Fprint(c.stdout, usage())
		return true, errHelp
	}
	for _, cmd := range commands {
		if cmd.name == args[0] {
			return true, cmd.run(c, ctx, args[1:])
		}
	}
	for _, g := range groups {
		if g.name != args[0] {
			continue
		}
		if len(args) < 2 {
			return true, usagef("berth %s needs a verb\n\n%s", g.name, g.usage())
		}
		if isHelp(args[1]) {
			fmt.Fprint(c.stdout, g.usage())
			return true, errHelp
		}
		for _, v := range g.verbs {
			if v.name == args[1] {
				return true, v.run(c, ctx, args[2:])
			}
		}
		return true, usagef("berth %s: unknown verb %q\n\n%s", g.name, args[1], g.usage())
	}
	return false, nil
}

func isHelp(s string) bool { return s == "-h" || s == "-help" || s == "--help" || s == "help" }

func (g group) usage() string {
	var b strings.Builder
	fmt.Fprintf(&b, "berth %s — %s\n\nUsage:\n", g.name, g.summary)
	for _, v := range g.verbs {
		fmt.Fprintf(&b, "  berth %s %-11s %s\n", g.name, v.name, v.summary)
	}
	fmt.Fprintf(&b, "\nRun \"berth %s <verb> --help\" for a verb's flags.\n", g.name)
	return b.String()
}

// flags returns a verb's flag set; synopsis follows "berth " in the
// usage line.
func (c *cli) flags(synopsis, description string) *flag.FlagSet {
	name, _, _ := strings.Cut(synopsis, " <")
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprintf(c.stdout, "Usage: berth %s [flags]\n\n%s\n", synopsis, description)
		fs.SetOutput(c.stdout)
		n := 0
		fs.VisitAll(func(*flag.Flag) { n++ })
		if n > 0 {
			fmt.Fprintln(c.stdout, "\nFlags:")
			fs.PrintDefaults()
		}
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parse parses flags and positional arguments in any order (flag stops
// at the first positional one), and checks their count is in [min, max]
// (max < 0: no limit).
func (c *cli) parse(fs *flag.FlagSet, args []string, min, max int) ([]string, error) {
	var pos []string
	// flag prints usage on every error; print it on --help only.
	help := fs.Usage
	fs.Usage = func() {}
	defer func() { fs.Usage = help }()
	for {
		if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
			help()
			return nil, errHelp
		} else if err != nil {
			return nil, usagef("berth %s: %v (see --help)", fs.Name(), err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			pos = append(pos, rest...)
			break
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
	if len(pos) < min || (max >= 0 && len(pos) > max) {
		want := fmt.Sprintf("%d", min)
		switch {
		case max < 0:
			want = fmt.Sprintf("at least %d", min)
		case max != min:
			want = fmt.Sprintf("%d to %d", min, max)
		}
		return nil, usagef("berth %s takes %s argument(s), not %d (see --help)", fs.Name(), want, len(pos))
	}
	return pos, nil
}

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return strings.Join(*m, ", ") }
func (m *multi) Set(s string) error { *m = append(*m, s); return nil }

// table writes aligned columns to stdout.
func (c *cli) table(header string, rows [][]string) {
	w := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, header)
	for _, r := range rows {
		fmt.Fprintln(w, strings.Join(r, "\t"))
	}
	w.Flush()
}

// when formats a time for people; an unset time is "-", never a zero
// date.
func when(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04")
}

// expiry formats an expiry time: unset means it never expires.
func expiry(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return when(t)
}

// dash stands in for an empty cell.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// stamp formats a time to the second (the audit trail); unset is "-".
func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}
