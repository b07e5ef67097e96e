package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/inprocess"
)

// login checks credentials against the registry's /token endpoint (what
// docker login does) and saves them.
func (c *cli) login(ctx context.Context, args []string) error {
	fs := c.flags("login <registry-url>",
		"Log in to a Berth registry as <tenancy>/<user> with an auth token read from stdin,\n"+
			"and save the URL and credentials in ~/.config/berth/config.json (mode 0600;\n"+
			"BERTH_CONFIG names another file). Example:\n\n"+
			"  echo \"$TOKEN\" | berth login https://registry.example.com -u dev/admin --password-stdin\n\n"+
			"With --aws, log in as <tenancy>/aws with the AWS credentials at hand (the SDK's\n"+
			"chain: environment, profile, SSO, instance or task role); each later command\n"+
			"signs a fresh login, and nothing secret is saved:\n\n"+
			"  berth login --aws https://registry.example.com -u dev")
	var user string
	fs.StringVar(&user, "u", "", "login name: `<tenancy>/<user>`")
	fs.StringVar(&user, "username", "", "same as -u")
	stdin := fs.Bool("password-stdin", false, "read the auth token from stdin")
	withAWS := fs.Bool("aws", false, "log in as <tenancy>/aws with your AWS credentials (an IAM role the tenancy maps; docs/auth.md)")
	pos, err := c.parse(fs, args, 1, 1)
	if err != nil {
		return err
	}
	if *withAWS {
		return c.awsLogin(ctx, pos[0], user)
	}
	if t, u, ok := strings.Cut(user, "/"); !ok || t == "" || u == "" {
		return usagef("berth login needs -u <tenancy>/<user> (for example -u dev/admin)")
	}
	if !*stdin {
		return usagef("pass the auth token on stdin: echo \"$TOKEN\" | berth login %s -u %s --password-stdin", pos[0], user)
	}
	b, err := io.ReadAll(io.LimitReader(c.stdin, 4096))
	if err != nil {
		return err
	}
	token := strings.TrimSpace(string(b))
	if token == "" {
		return errors.New("no auth token on stdin")
	}
	base, err := registryURL(pos[0])
	if err != nil {
		return err
	}
	cl := &client{settings: settings{URL: base, Username: user, Token: token}, http: c.http}
	if err := cl.call(ctx, "GET", "/token", nil, nil, nil); err != nil {
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == 401 {
			return fmt.Errorf("login to %s as %s failed: %s", base, user, strings.TrimSuffix(ae.Message, "; log in again with berth login"))
		}
		return err
	}
	p, err := c.saveSettings(cl.settings)
	if err != nil {
		return err
	}
	fmt.Fprintf(c.stdout, "Logged in to %s as %s (saved in %s)\n", base, user, p)
	return nil
}

// registryURL normalizes what a person types: a host alone means https,
// except on the loopback interface, where `berth serve` listens on http.
func registryURL(s string) (string, error) {
	if !strings.Contains(s, "://") {
		scheme := "https://"
		if h := strings.Split(s, ":")[0]; h == "localhost" || h == "127.0.0.1" || strings.HasPrefix(s, "[::1]") {
			scheme = "http://"
		}
		s = scheme + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return "", fmt.Errorf("%q is not a registry URL such as https://registry.example.com or 127.0.0.1:5000", s)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}

// logout removes the saved credentials.
func (c *cli) logout(_ context.Context, args []string) error {
	fs := c.flags("logout", "Forget the credentials berth login saved.")
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	p, err := c.configPath()
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	fmt.Fprintln(c.stdout, "Logged out")
	return nil
}

// bootstrap writes the first tenancy, its admin and an auth token
// straight into the configured store: on AWS, there is no one to ask the
// admin API yet.
func (c *cli) bootstrap(ctx context.Context, args []string) error {
	fs := c.flags("bootstrap",
		"Create tenancy BERTH_TENANCY (default dev) with user admin in its administrators\n"+
			"group, and print an auth token for it, writing directly to the store the\n"+
			"environment configures (BERTH_BACKEND, BERTH_TABLE, BERTH_BUCKET and the AWS\n"+
			"SDK's variables; see docs/auth.md). Run it once after the first deploy.\n"+
			"BERTH_ADMIN_TOKEN, when set, is stored as the token instead of a new one.")
	force := fs.Bool("force", false, "add a token even when admin already holds an active one")
	if _, err := c.parse(fs, args, 0, 0); err != nil {
		return err
	}
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	stores, err := inprocess.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer stores.Close()
	if cfg.Backend != "embedded" && cfg.AdminToken == "" && !*force {
		// The embedded backend keeps its token in the data directory and
		// prints the same one again; elsewhere each run makes a new one.
		toks, err := stores.IDs.ListTokens(ctx, cfg.Tenancy, "admin")
		if err != nil {
			return err
		}
		for _, t := range toks {
			if !t.Revoked && (t.Expires.IsZero() || time.Now().Before(t.Expires)) {
				return fmt.Errorf("tenancy %s is already bootstrapped: %s/admin holds active auth token %s. Log in with it, or pass --force to add another", cfg.Tenancy, cfg.Tenancy, t.ID)
			}
		}
	}
	token, err := app.Bootstrap(ctx, cfg, stores.IDs)
	if err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, token)
	fmt.Fprintf(c.stderr, "Tenancy %s is ready; its administrator logs in as %s/admin with the token above:\n"+
		"  echo <token> | docker login <registry-host> -u %s/admin --password-stdin\n"+
		"  echo <token> | berth login <registry-url> -u %s/admin --password-stdin\n",
		cfg.Tenancy, cfg.Tenancy, cfg.Tenancy, cfg.Tenancy)
	return nil
}
