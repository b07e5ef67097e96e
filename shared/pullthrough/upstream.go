package pullthrough

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/berth-registry/berth/shared/oci"
)

// What an upstream's answer means to the cache; wrapped with the status.
var (
	errNotFound  = errors.New("not found upstream")
	errRefused   = errors.New("the upstream refused Berth's request")
	errThrottled = errors.New("the upstream is throttling Berth")
	errDown      = errors.New("the upstream could not be reached")
)

// UserAgent is what Berth's requests to upstreams say they are, so an
// upstream's operator (and a test) can tell them from clients'.
const UserAgent = "berth-pullthrough/1"

// manifestAccept is every manifest type Berth stores (schema 1 is not
// one: oci.ParseManifest refuses it).
const manifestAccept = oci.MediaTypeImageIndex + ", " + oci.MediaTypeImageManifest + ", " +
	oci.MediaTypeDockerList + ", " + oci.MediaTypeDockerManifest

// upstream is one repository of a rule's upstream registry, as Berth
// reaches it: the Docker token flow (a 401's Bearer challenge, then a
// token from its realm, with the rule's credentials when it has any),
// and no redirect followed unless asked for (fills).
type upstream struct {
	base     *url.URL
	name     string
	creds    *Credentials
	http     *http.Client
	tokens   *tokens
	insecure bool
}

// statusError maps an upstream's status to what it means.
func statusError(status int) error {
	switch {
	case status == http.StatusNotFound:
		return fmt.Errorf("%w (HTTP %d)", errNotFound, status)
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return fmt.Errorf("%w (HTTP %d)", errRefused, status)
	case status == http.StatusTooManyRequests:
		return fmt.Errorf("%w (HTTP %d)", errThrottled, status)
	}
	return fmt.Errorf("%w (HTTP %d)", errDown, status)
}

// get sends method to path (under /v2/<name>/) with the token flow and
// returns the answer: any status, for the caller to read. Network
// failures are errDown.
func (u *upstream) get(ctx context.Context, method, path, accept string) (*http.Response, error) {
	target := u.base.JoinPath("/v2/", u.name, path)
	scope := "repository:" + u.name + ":pull"
	auth := u.tokens.get(u.key(scope))
	for try := 0; ; try++ {
		req, err := http.NewRequestWithContext(ctx, method, target.String(), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("User-Agent", UserAgent)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		res, err := u.http.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%w: %s %s: %v", errDown, method, target.Redacted(), err)
		}
		if res.StatusCode != http.StatusUnauthorized || try > 0 {
			return res, nil
		}
		challenge := res.Header.Get("Www-Authenticate")
		drain(res)
		if auth, err = u.authorize(ctx, challenge, scope); err != nil {
			return nil, err
		}
		if auth == "" {
			return nil, fmt.Errorf("%w (HTTP 401 and nothing to answer its challenge with)", errRefused)
		}
	}
}

// key is the token cache's key for scope: by upstream and credentials
// (a fingerprint of them, so that changed credentials get a token of
// their own).
func (u *upstream) key(scope string) string {
	who := ""
	if u.creds != nil {
		sum := sha256.Sum256([]byte(u.creds.Username + "\x00" + u.creds.Password))
		who = hex.EncodeToString(sum[:8])
	}
	return u.base.String() + "\x00" + who + "\x00" + scope
}

// authorize answers a 401's challenge: Basic with the rule's
// credentials, or Bearer with a token from the challenge's realm.
func (u *upstream) authorize(ctx context.Context, challenge, scope string) (string, error) {
	scheme, params := parseChallenge(challenge)
	switch scheme {
	case "basic":
		if u.creds == nil {
			return "", nil
		}
		return basic(u.creds), nil
	case "bearer":
	default:
		return "", fmt.Errorf("%w (HTTP 401 with an unsupported challenge)", errRefused)
	}
	realm, err := url.Parse(params["realm"])
	if err != nil || !realm.IsAbs() {
		return "", fmt.Errorf("%w (a Bearer challenge without a usable realm)", errRefused)
	}
	if err := checkURL(ctx, realm, u.insecure); err != nil {
		return "", fmt.Errorf("%w: the token realm %s: %v", errRefused, realm.Redacted(), err)
	}
	q := realm.Query()
	if s := params["service"]; s != "" {
		q.Set("service", s)
	}
	if s := params["scope"]; s != "" {
		scope = s
	}
	q.Set("scope", scope)
	realm.RawQuery = q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, realm.String(), nil)
	if err != nil {
		return "", err
	}
	req.Header.Set("User-Agent", UserAgent)
	if u.creds != nil {
		req.Header.Set("Authorization", basic(u.creds))
	}
	res, err := u.http.Do(req)
	if err != nil {
		return "", fmt.Errorf("%w: the token realm: %v", errDown, err)
	}
	defer drain(res)
	if res.StatusCode != http.StatusOK {
		return "", statusError(res.StatusCode)
	}
	var tok struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := json.NewDecoder(io.LimitReader(res.Body, 1<<20)).Decode(&tok); err != nil {
		return "", fmt.Errorf("%w: the token realm answered no JSON", errRefused)
	}
	t := tok.Token
	if t == "" {
		t = tok.AccessToken
	}
	if t == "" {
		return "", fmt.Errorf("%w: the token realm answered no token", errRefused)
	}
	// The spec's default lifetime is 60 s; keep a token a little less
	// than it lives.
	life := time.Duration(max(tok.ExpiresIn, 60)) * time.Second * 9 / 10
	u.tokens.put(u.key(scope), "Bearer "+t, life)
	return "Bearer " + t, nil
}

// basic is the Basic Authorization value of c.
func basic(c *Credentials) string {
	req := http.Request{Header: http.Header{}}
	req.SetBasicAuth(c.Username, c.Password)
	return req.Header.Get("Authorization")
}

// parseChallenge splits a WWW-Authenticate value into its scheme (lower
// case) and parameters (RFC 7235: name=value or name="quoted value").
func parseChallenge(h string) (string, map[string]string) {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	params := map[string]string{}
	for rest = strings.TrimSpace(rest); rest != ""; rest = strings.TrimLeft(rest, " ,") {
		name, after, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		name = strings.ToLower(strings.TrimSpace(name))
		var value string
		if strings.HasPrefix(after, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(after) && after[i] != '"'; i++ {
				if after[i] == '\\' && i+1 < len(after) {
					i++
				}
				b.WriteByte(after[i])
			}
			value, rest = b.String(), after[min(i+1, len(after)):]
		} else {
			value, rest, _ = strings.Cut(after, ",")
			value = strings.TrimSpace(value)
		}
		params[name] = value
	}
	return strings.ToLower(scheme), params
}

// drain reads a little of an answer's body and closes it, so the
// connection can be reused.
func drain(res *http.Response) {
	_, _ = io.CopyN(io.Discard, res.Body, 64<<10)
	res.Body.Close()
}

// tokens caches upstream registry tokens across requests (and warm
// invocations), by upstream, user and scope.
type tokens struct {
	mu sync.Mutex
	m  map[string]tokenEntry
}

type tokenEntry struct {
	auth string
	exp  time.Time
}

func (t *tokens) get(k string) string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if e, ok := t.m[k]; ok && time.Now().Before(e.exp) {
		return e.auth
	}
	return ""
}

func (t *tokens) put(k, auth string, life time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.m == nil || len(t.m) > 1000 {
		t.m = map[string]tokenEntry{}
	}
	t.m[k] = tokenEntry{auth: auth, exp: time.Now().Add(life)}
}
