package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
)

// settings are what `berth login` saves: the registry and credentials.
type settings struct {
	URL      string `json:"url"`
	Username string `json:"username"`
	Token    string `json:"token"`
	// AWS, for an AWS IAM login (berth login --aws), says where the
	// registry checks it; Token is then signed afresh on each load.
	AWS *awsSettings `json:"aws,omitempty"`
}

// tenancy is the namespace of the saved login ("dev" of "dev/admin").
func (s settings) tenancy() string {
	t, _, _ := strings.Cut(s.Username, "/")
	return t
}

// user is the user name of the saved login ("admin" of "dev/admin").
func (s settings) user() string {
	_, u, _ := strings.Cut(s.Username, "/")
	return u
}

// configPath is BERTH_CONFIG, else $XDG_CONFIG_HOME/berth/config.json,
// else ~/.config/berth/config.json.
func (c *cli) configPath() (string, error) {
	if p := c.getenv("BERTH_CONFIG"); p != "" {
		return p, nil
	}
	if d := c.getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "berth", "config.json"), nil
	}
	home := c.getenv("HOME")
	if home == "" {
		return "", errors.New("cannot find the config file: set HOME or BERTH_CONFIG")
	}
	return filepath.Join(home, ".config", "berth", "config.json"), nil
}

var errNotLoggedIn = errors.New("not logged in: run berth login <registry-url> -u <tenancy>/<user> --password-stdin")

func (c *cli) loadSettings() (settings, error) {
	var s settings
	p, err := c.configPath()
	if err != nil {
		return s, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return s, errNotLoggedIn
	} else if err != nil {
		return s, err
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return s, fmt.Errorf("%s is not valid JSON (%v); log in again to rewrite it", p, err)
	}
	if s.AWS != nil && s.URL != "" {
		if s.Token, err = c.awsToken(context.Background(), s); err != nil {
			return s, fmt.Errorf("signing an AWS login for %s: %w", s.URL, err)
		}
	}
	if s.URL == "" || s.Username == "" || s.Token == "" {
		return s, errNotLoggedIn
	}
	return s, nil
}

// saveSettings writes the config file readable by its owner only: it
// holds an auth token.
func (c *cli) saveSettings(s settings) (string, error) {
	p, err := c.configPath()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(p, append(b, '\n'), 0o600); err != nil {
		return "", err
	}
	return p, os.Chmod(p, 0o600) // WriteFile keeps an existing file's mode
}

// client calls a registry's admin API with saved credentials.
type client struct {
	settings
	http *http.Client
}

func (c *cli) client() (*client, error) {
	s, err := c.loadSettings()
	if err != nil {
		return nil, err
	}
	return &client{settings: s, http: c.http}, nil
}

// apiError is an error the API answered: its message is meant for
// people.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func (e *apiError) Error() string { return fmt.Sprintf("%s (%s)", e.Message, e.Code) }

// call sends method path with in as JSON (when not nil) and decodes the
// answer into out (when not nil; a *json.RawMessage takes it verbatim).
func (cl *client) call(ctx context.Context, method, path string, query url.Values, in, out any) error {
	return cl.callIfMatch(ctx, method, path, query, "", in, out)
}

// callIfMatch is call with an If-Match header (when ifMatch is not ""),
// so that a write applies only to the version the caller saw.
func (cl *client) callIfMatch(ctx context.Context, method, path string, query url.Values, ifMatch string, in, out any) error {
	u := strings.TrimSuffix(cl.URL, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if ifMatch != "" {
		req.Header.Set("If-Match", ifMatch)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "berth-cli")
	req.SetBasicAuth(cl.Username, cl.Token)
	res, err := cl.http.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the registry at %s: %w", cl.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("reading the answer to %s %s: %w", method, path, err)
	}
	if res.StatusCode >= 300 {
		return answerError(res, b, method, path)
	}
	if out == nil || len(b) == 0 {
		return nil
	}
	if raw, ok := out.(*json.RawMessage); ok {
		*raw = b
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("the answer to %s %s is not what berth expects (%v); is the CLI older than the registry?", method, path, err)
	}
	return nil
}

// answerError turns an error response into an error a person can act on.
func answerError(res *http.Response, body []byte, method, path string) error {
	var eb struct {
		Errors []struct{ Code, Message string }
	}
	if json.Unmarshal(body, &eb) == nil && len(eb.Errors) > 0 {
		e := eb.Errors[0]
		ae := &apiError{Status: res.StatusCode, Code: e.Code, Message: e.Message}
		if res.StatusCode == http.StatusUnauthorized {
			ae.Message += "; log in again with berth login"
		}
		return ae
	}
	return fmt.Errorf("the registry answered %s to %s %s (%s); is this a Berth registry with the admin API deployed?",
		res.Status, method, path, strings.TrimSpace(string(body)))
}

// seg escapes one path segment.
func seg(s string) string { return url.PathEscape(s) }

// repoPath escapes a repository name segment by segment, keeping its
// slashes.
func repoPath(name string) string {
	parts := strings.Split(name, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return strings.Join(parts, "/")
}

// printJSON writes an API answer indented.
func (c *cli) printJSON(raw json.RawMessage) error {
	var b bytes.Buffer
	if err := json.Indent(&b, raw, "", "  "); err != nil {
		return err
	}
	b.WriteByte('\n')
	_, err := c.stdout.Write(b.Bytes())
	return err
}
