package oidc

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/berth-registry/berth/shared/netguard"
)

// maxDocument bounds a discovery document or JWK set (real ones are a
// few KB).
const maxDocument = 128 << 10

// defaultTimeout bounds each fetch: an authorizer has seconds, not
// minutes.
const defaultTimeout = 5 * time.Second

// fetcher reads discovery documents and key sets over a client that
// refuses redirects, proxies and non-public addresses.
type fetcher struct {
	client   *http.Client
	loopback bool
	timeout  time.Duration
}

func newFetcher(o Options) *fetcher {
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	dialer := &net.Dialer{Timeout: timeout, Control: dialGuard(o.AllowLoopback)}
	tr := &http.Transport{
		// No proxy: the guard checks the address connected to, which
		// through a proxy would be the proxy's.
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		TLSClientConfig:        &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: o.RootCAs},
		TLSHandshakeTimeout:    timeout,
		ResponseHeaderTimeout:  timeout,
		MaxResponseHeaderBytes: 32 << 10,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        90 * time.Second,
		ForceAttemptHTTP2:      true,
	}
	return &fetcher{
		client: &http.Client{
			Transport: tr,
			Timeout:   timeout,
			// A redirect could lead anywhere; issuers serve their
			// documents where they say.
			CheckRedirect: func(*http.Request, []*http.Request) error { return errors.New("redirects are not followed") },
		},
		loopback: o.AllowLoopback,
		timeout:  timeout,
	}
}

// keys fetches the issuer's discovery document, checks it, and fetches
// the key set it names, both within one timeout (the authorizer's own
// is 10 s).
func (f *fetcher) keys(ctx context.Context, t Trust) (map[string]jwk, error) {
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	iss, err := CheckIssuer(t.Issuer, f.loopback)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	discovery := strings.TrimSuffix(t.Issuer, "/") + "/.well-known/openid-configuration"
	b, err := f.get(ctx, discovery)
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("%w: discovery document of %s is not JSON", ErrUnavailable, t.Issuer)
	}
	// OpenID Connect Discovery 1.0 §4.3: the document's issuer is the
	// issuer it was fetched for, exactly.
	if doc.Issuer != t.Issuer {
		return nil, fmt.Errorf("%w: discovery document of %s names issuer %q", ErrUnavailable, t.Issuer, doc.Issuer)
	}
	ju, err := f.checkJWKSURI(doc.JWKSURI, iss, t.JWKSHosts)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	if b, err = f.get(ctx, ju); err != nil {
		return nil, err
	}
	keys, err := parseJWKS(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnavailable, ju, err)
	}
	return keys, nil
}

// checkJWKSURI requires the key set on the issuer's own host or on one
// the rule allows, over https (or loopback http when allowed).
func (f *fetcher) checkJWKSURI(raw string, iss *url.URL, allowed []string) (string, error) {
	u, err := checkURL(raw, f.loopback)
	if err != nil {
		return "", fmt.Errorf("jwks_uri %q: %v", raw, err)
	}
	h := strings.ToLower(u.Hostname())
	if h == strings.ToLower(iss.Hostname()) {
		return u.String(), nil
	}
	for _, a := range allowed {
		if strings.EqualFold(a, h) {
			return u.String(), nil
		}
	}
	return "", fmt.Errorf("jwks_uri %q is not on the issuer's host %s nor on a host the rule allows (jwksHosts)", raw, iss.Hostname())
}

// get reads a document, bounded in size and time.
func (f *fetcher) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	req.Header.Set("Accept", "application/json")
	res, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: GET %s: %v", ErrUnavailable, u, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: GET %s: %s", ErrUnavailable, u, res.Status)
	}
	b, err := io.ReadAll(io.LimitReader(res.Body, maxDocument+1))
	if err != nil {
		return nil, fmt.Errorf("%w: GET %s: %v", ErrUnavailable, u, err)
	}
	if len(b) > maxDocument {
		return nil, fmt.Errorf("%w: GET %s: larger than %d bytes", ErrUnavailable, u, maxDocument)
	}
	return b, nil
}

// CheckIssuer checks an issuer URL a federation rule may name: https
// with a host and nothing a fetch could be steered by (user info, a
// query, a fragment); http only on a loopback host, and only when
// loopback is allowed.
func CheckIssuer(raw string, loopback bool) (*url.URL, error) {
	if len(raw) > 300 {
		return nil, errors.New("the issuer URL is longer than 300 characters")
	}
	return checkURL(raw, loopback)
}

func checkURL(raw string, loopback bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	switch {
	case u.Host == "" || u.Opaque != "":
		return nil, errors.New("not an absolute URL with a host")
	case u.User != nil:
		return nil, errors.New("a URL with user info is not accepted")
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(raw, "?#"):
		return nil, errors.New("a URL with a query or fragment is not accepted")
	case u.Scheme == "https":
	case u.Scheme == "http" && loopback && isLoopbackHost(u.Hostname()):
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		return nil, errors.New("http is accepted only for loopback test issuers, which this registry does not allow (BERTH_OIDC_LOOPBACK=1)")
	default:
		return nil, errors.New("the URL must be https")
	}
	return u, nil
}

func isLoopbackHost(h string) bool {
	if strings.EqualFold(h, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(h)
	return err == nil && a.IsLoopback()
}

// PublicAddress reports whether a fetch may connect to a (see
// netguard.Public).
func PublicAddress(a netip.Addr, loopback bool) bool { return netguard.Public(a, loopback) }

// dialGuard checks the address each connection is made to, after name
// resolution, so a name that resolves (or rebinds) to an internal
// address is refused too: issuers must be on public addresses.
func dialGuard(loopback bool) func(network, address string, _ syscall.RawConn) error {
	return netguard.Control(loopback)
}
