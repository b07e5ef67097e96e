// Package push is the client side of Berth's large-blob path: a
// registry client that does the Docker token dance, direct uploads
// (docs/direct-uploads.md) with parallel parts that resume after an
// interruption, image sources (docker save archives, OCI layouts, the
// local docker engine), and docker-style progress bars. `berth push`
// drives it; `berth proxy` (shared/proxy) reuses its client and uploads.
package push

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// Client talks to one registry as one user. Requests to the registry go
// through Do, which authenticates; requests to presigned storage URLs go
// through Storage, which never carries the registry's credentials.
type Client struct {
	// Base is the registry's URL (scheme and host, no path).
	Base *url.URL
	// Username and Password are the registry credentials ("" for
	// anonymous): Basic on /token, or on every request when the
	// registry asks for Basic.
	Username, Password string
	// HTTP sends registry requests; it must not follow redirects (blob
	// GETs answer 307 to storage, which the caller handles).
	HTTP *http.Client
	// Storage sends part uploads to presigned URLs.
	Storage *http.Client
	// UserAgent is sent with every request.
	UserAgent string

	mu     sync.Mutex
	probed bool
	scheme string // "", "basic" or "bearer"
	realm  string
	svc    string
	tokens map[string]token // by scope
}

type token struct {
	value   string
	expires time.Time
}

// NewClient returns a client of the registry at base (for example
// "https://registry.example.com" or "http://127.0.0.1:5000").
func NewClient(base, username, password string) (*Client, error) {
	u, err := url.Parse(strings.TrimSuffix(base, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("%q is not a registry URL such as https://registry.example.com", base)
	}
	u.Path, u.RawQuery = "", ""
	return &Client{
		Base: u, Username: username, Password: password,
		HTTP: &http.Client{
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			Transport:     transport(),
		},
		Storage:   &http.Client{Transport: transport()},
		UserAgent: "berth-push",
	}, nil
}

// transport is http.DefaultTransport with more connections kept per
// host: parts go out in parallel.
func transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConnsPerHost = 32
	t.ResponseHeaderTimeout = 5 * time.Minute
	return t
}

// URL resolves a path (or a Location the registry answered) against
// the registry.
func (c *Client) URL(ref string) string {
	u, err := c.Base.Parse(ref)
	if err != nil {
		return c.Base.String() + ref
	}
	return u.String()
}

// Do sends a request for repository repo ("" for none) to the registry,
// authenticated, and answers the response. body may be nil; it is sent
// again when the registry asks for credentials first.
func (c *Client) Do(ctx context.Context, method, ref string, body []byte, h http.Header, repo string) (*http.Response, error) {
	if err := c.probe(ctx); err != nil {
		return nil, err
	}
	scope := ""
	if repo != "" {
		scope = "repository:" + repo + ":pull,push"
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, method, c.URL(ref), bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		if body == nil {
			req.Body, req.ContentLength = http.NoBody, 0
		}
		for k, vs := range h {
			req.Header[k] = vs
		}
		req.Header.Set("User-Agent", c.UserAgent)
		if err := c.authorize(ctx, req, scope); err != nil {
			return nil, err
		}
		res, err := c.HTTP.Do(req)
		if err != nil {
			return nil, fmt.Errorf("cannot reach the registry at %s: %w", c.Base, err)
		}
		if res.StatusCode != http.StatusUnauthorized || attempt > 0 {
			return res, nil
		}
		// A token may have expired or lack the scope: learn the
		// challenge again and retry once.
		ch := res.Header.Get("WWW-Authenticate")
		drain(res)
		c.mu.Lock()
		c.learn(ch)
		if s := param(ch, "scope"); s != "" {
			scope = s
		}
		delete(c.tokens, scope)
		c.mu.Unlock()
	}
}

// probe asks GET /v2/ once how the registry authenticates.
func (c *Client) probe(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.probed {
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL("/v2/"), nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", c.UserAgent)
	res, err := c.HTTP.Do(req)
	if err != nil {
		return fmt.Errorf("cannot reach the registry at %s: %w", c.Base, err)
	}
	drain(res)
	switch {
	case res.StatusCode == http.StatusUnauthorized:
		c.learn(res.Header.Get("WWW-Authenticate"))
	case res.StatusCode >= 300:
		return fmt.Errorf("GET %s/v2/ answered %s; is this a registry?", c.Base, res.Status)
	}
	c.probed = true
	return nil
}

// learn records a WWW-Authenticate challenge; c.mu is held.
func (c *Client) learn(ch string) {
	scheme, _, _ := strings.Cut(strings.TrimSpace(ch), " ")
	switch strings.ToLower(scheme) {
	case "bearer":
		c.scheme, c.realm, c.svc = "bearer", param(ch, "realm"), param(ch, "service")
	case "basic":
		c.scheme = "basic"
	}
}

// authorize adds credentials for scope to req.
func (c *Client) authorize(ctx context.Context, req *http.Request, scope string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.scheme {
	case "basic":
		if c.Username != "" {
			req.SetBasicAuth(c.Username, c.Password)
		}
	case "bearer":
		t, ok := c.tokens[scope]
		if !ok || time.Now().After(t.expires) {
			var err error
			if t, err = c.fetchToken(ctx, scope); err != nil {
				return err
			}
			if c.tokens == nil {
				c.tokens = map[string]token{}
			}
			c.tokens[scope] = t
		}
		req.Header.Set("Authorization", "Bearer "+t.value)
	}
	return nil
}

// fetchToken asks the token endpoint for scope with the credentials
// (Docker token authentication); c.mu is held.
func (c *Client) fetchToken(ctx context.Context, scope string) (token, error) {
	u, err := url.Parse(c.realm)
	if err != nil || c.realm == "" {
		return token{}, fmt.Errorf("the registry's challenge names no usable token realm (%q)", c.realm)
	}
	q := u.Query()
	if c.svc != "" {
		q.Set("service", c.svc)
	}
	if scope != "" {
		q.Set("scope", scope)
	}
	u.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.Base.ResolveReference(u).String(), nil)
	if err != nil {
		return token{}, err
	}
	req.Header.Set("User-Agent", c.UserAgent)
	if c.Username != "" {
		req.SetBasicAuth(c.Username, c.Password)
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		return token{}, fmt.Errorf("cannot reach the token endpoint %s: %w", u, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return token{}, responseError(res, "log in to "+c.Base.String())
	}
	var tr struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&tr); err != nil {
		return token{}, fmt.Errorf("token endpoint answered no token: %w", err)
	}
	t := token{value: tr.Token}
	if t.value == "" {
		t.value = tr.AccessToken
	}
	ttl := time.Duration(tr.ExpiresIn) * time.Second
	if ttl <= 0 {
		ttl = 60 * time.Second
	}
	t.expires = time.Now().Add(ttl * 9 / 10)
	return t, nil
}

// param returns one parameter of a challenge (`Bearer realm="...",...`).
func param(ch, name string) string {
	_, rest, _ := strings.Cut(ch, " ")
	for rest != "" {
		rest = strings.TrimLeft(rest, " ,")
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			return ""
		}
		k = strings.TrimSpace(k)
		if strings.HasPrefix(v, `"`) {
			end := strings.Index(v[1:], `"`)
			if end < 0 {
				return ""
			}
			rest = v[end+2:]
			v = v[1 : end+1]
		} else {
			v, rest, _ = strings.Cut(v, ",")
		}
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// Error is an error the registry answered: its first spec error code
// and message, and the HTTP status.
type Error struct {
	Status  int
	Code    string
	Message string
}

func (e *Error) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("the registry answered %d %s", e.Status, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// responseError reads an error response into an *Error; doing says what
// was being attempted, for errors without a spec body.
func responseError(res *http.Response, doing string) error {
	b, _ := io.ReadAll(io.LimitReader(res.Body, 64<<10))
	var eb struct {
		Errors []struct{ Code, Message string }
	}
	if json.Unmarshal(b, &eb) == nil && len(eb.Errors) > 0 {
		return &Error{Status: res.StatusCode, Code: eb.Errors[0].Code, Message: eb.Errors[0].Message}
	}
	msg := strings.TrimSpace(string(b))
	if len(msg) > 200 {
		msg = msg[:200] + "…"
	}
	return &Error{Status: res.StatusCode, Message: fmt.Sprintf("%s to %s: %s", http.StatusText(res.StatusCode), doing, msg)}
}

// IsCode reports whether err is a registry error with the spec code.
func IsCode(err error, code string) bool {
	var e *Error
	return errors.As(err, &e) && e.Code == code
}

// drain reads and closes a body so the connection is reused.
func drain(res *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
}
