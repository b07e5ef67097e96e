package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/berth-registry/berth/shared/doctor"
)

const doctorUsage = `Usage: berth doctor <url> [-u <namespace>/<user> --password-stdin] [--insecure] [--json]

Probes a registry the way docker and containerd use it — challenge, token
login, a tiny push and pull in a generated repository that is deleted
afterwards — and names the stack option or setting that fixes each
failure. Run it after every deploy. Exit status 1 when a check fails.
See docs/doctor.md.

`

// doctor is `berth doctor`.
func (c *cli) doctor(ctx context.Context, args []string) error {
	return runDoctor(ctx, args, c.stdin, c.stdout, c.stderr)
}

// runDoctor parses the arguments, runs the probe and prints the report.
func runDoctor(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("berth doctor", flag.ContinueOnError)
	printUsage := func(w io.Writer) {
		fs.SetOutput(w)
		fmt.Fprint(w, doctorUsage)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	fs.SetOutput(io.Discard)
	fs.Usage = func() {} // printed below, on --help only
	user := fs.String("u", "", "log in as `<namespace>/<user>` (needs --password-stdin)")
	fs.StringVar(user, "username", "", "same as -u")
	pwStdin := fs.Bool("password-stdin", false, "read the auth token from stdin")
	insecure := fs.Bool("insecure", false, "do not verify the TLS certificate (the tls check still reports it)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	url, err := parseInterleaved(fs, args)
	if errors.Is(err, flag.ErrHelp) {
		printUsage(stdout)
		return errHelp
	} else if err != nil {
		return usagef("berth doctor: %v (see berth doctor --help)", err)
	}
	opts := doctor.Options{URL: url, Username: *user, Insecure: *insecure}
	switch {
	case *user != "" && !*pwStdin:
		return errors.New("doctor: -u needs --password-stdin (the auth token, read from stdin)")
	case *pwStdin && *user == "":
		return errors.New("doctor: --password-stdin needs -u <namespace>/<user>")
	case *pwStdin:
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("doctor: reading the auth token from stdin: %w", err)
		}
		if opts.Password = strings.TrimSpace(line); opts.Password == "" {
			return errors.New("doctor: --password-stdin read an empty auth token")
		}
	}
	rep, err := doctor.Run(ctx, opts)
	if err != nil {
		return err
	}
	if *asJSON {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.Print(stdout)
	}
	if err != nil {
		return err
	}
	if n := rep.Failed(); n > 0 {
		return fmt.Errorf("doctor: %d check(s) failed", n)
	}
	return nil
}

// parseInterleaved parses flags given before or after the one
// positional argument (the URL), as `berth doctor <url> -u ...` puts it.
func parseInterleaved(fs *flag.FlagSet, args []string) (string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return "", err
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
	if len(pos) != 1 {
		return "", fmt.Errorf("want one registry URL, got %d arguments", len(pos))
	}
	return pos[0], nil
}
