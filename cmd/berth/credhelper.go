package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
)

// credentialHelperName is the name docker runs a credential helper by
// ("credHelpers": {"<host>": "berth"} runs docker-credential-berth):
// berth run under that name (a symlink) is the helper.
const credentialHelperName = "docker-credential-berth"

const credentialHelperUsage = `Usage: berth credential-helper get|store|erase|list

Docker's credential helper over the login berth login saved: "get" reads a
registry host on stdin and answers the saved login for it; for an AWS login
(berth login --aws), a login token signed afresh each time. Docker runs it
as docker-credential-berth (a symlink to berth) for the hosts that
~/.docker/config.json names under "credHelpers" (docs/auth.md).
`

// errCredentialsNotFound is the answer docker expects, verbatim, from a
// helper without credentials for a host.
var errCredentialsNotFound = errors.New("credentials not found in native keychain")

// credentialHelper is docker's credential-helper protocol over the
// login berth saved: `get` answers the saved login for the saved
// registry's host — for an AWS login (berth login --aws) a login token
// signed afresh, so docker's logins never go stale. `store` and `erase`
// keep nothing (berth login saves the login), `list` names the saved
// registry.
func (c *cli) credentialHelper(_ context.Context, args []string) error {
	if len(args) == 1 && isHelp(args[0]) {
		fmt.Fprint(c.stdout, credentialHelperUsage)
		return errHelp
	}
	if len(args) != 1 {
		return usagef("usage: %s get|store|erase|list (docker runs it; see docs/auth.md)", credentialHelperName)
	}
	in, err := io.ReadAll(io.LimitReader(c.stdin, 64<<10))
	if err != nil {
		return err
	}
	switch args[0] {
	case "store", "erase":
		return nil
	case "list":
		out := map[string]string{}
		if s, err := c.loadSettings(); err == nil {
			out[s.URL] = s.Username
		}
		return json.NewEncoder(c.stdout).Encode(out)
	case "get":
	default:
		return usagef("%s: unknown action %q (get, store, erase or list)", credentialHelperName, args[0])
	}
	server := strings.TrimSpace(string(in))
	s, err := c.loadSettings()
	if errors.Is(err, errNotLoggedIn) || (err == nil && !sameHost(s.URL, server)) {
		fmt.Fprintln(c.stdout, errCredentialsNotFound)
		return errCredentialsNotFound
	} else if err != nil {
		return err
	}
	return json.NewEncoder(c.stdout).Encode(map[string]string{"ServerURL": server, "Username": s.Username, "Secret": s.Token})
}

// sameHost reports whether a registry URL and what docker names a
// registry by (a host, or a URL) are the same host.
func sameHost(registryURL, server string) bool {
	host := func(s string) string {
		if !strings.Contains(s, "://") {
			s = "https://" + s
		}
		u, err := url.Parse(s)
		if err != nil {
			return ""
		}
		return strings.ToLower(u.Host)
	}
	h := host(registryURL)
	return h != "" && h == host(server)
}
