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

// groups are the admin commands, in the order usage lists them.
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
	{"repos", "manage repositories", []command{
		{"list", "list repositories", (*cli).reposList},
		{"get", "show a repository's settings, tags and manifests", (*cli).reposGet},
		{"create", "create a repository", (*cli).reposCreate},
		{"set", "change a repository's visibility or tag immutability", (*cli).reposSet},
		{"delete", "delete a repository with its tags and manifests", (*cli).reposDelete},
	}},
	retentionGroup,
}

// commands are the admin commands without verbs.
var commands = []command{
	{"login", "log in to a registry's admin API and save the credentials", (*cli).login},
	{"logout", "forget the saved credentials", (*cli).logout},
	{"audit", "show the tenancy's audit trail", (*cli).audit},
	{"bootstrap", "create the first tenancy, its admin user and an auth token in the configured store", (*cli).bootstrap},
	{"push", "push an image of any size straight to storage (resumable)", (*cli).push},
	{"proxy", "local registry so an unchanged docker push sends layers of any size", (*cli).proxy},
}

// errHelp says help was asked for and printed: exit 0.
var errHelp = errors.New("help shown")

// usageError is a command line that does not parse: exit 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// run runs one admin command line (without the program name); ok is
// false when args name no admin command.
func (c *cli) run(ctx context.Context, args []string) (ok bool, err error) {
	if len(args) == 0 {
		return false, nil
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

// when formats a time for tables; zero is "never" (a token without
// expiry).
func when(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format("2006-01-02 15:04")
}

// dash stands in for an empty cell.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
