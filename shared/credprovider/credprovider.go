// Package credprovider is berth-credential-provider: a kubelet image
// credential provider (the CredentialProvider exec protocol,
// credentialprovider.kubelet.k8s.io/v1) that exchanges the pod's
// projected service account token, which the kubelet passes when the
// provider's configuration sets tokenAttributes, for a registry token
// that pulls the image's repository: the path to Berth from a cluster
// (OKE, EKS, any) without imagePullSecrets (docs/keyless.md).
//
// The registry token is handed to the kubelet as the password of
// "<tenancy>/oidc"; containerd presents it at /token, which reissues it
// with no more access and no longer life.
package credprovider

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// APIVersion is the only protocol version spoken.
const APIVersion = "credentialprovider.kubelet.k8s.io/v1"

// Request is the kubelet's CredentialProviderRequest.
type Request struct {
	APIVersion                string            `json:"apiVersion"`
	Kind                      string            `json:"kind"`
	Image                     string            `json:"image"`
	ServiceAccountToken       string            `json:"serviceAccountToken,omitempty"`
	ServiceAccountAnnotations map[string]string `json:"serviceAccountAnnotations,omitempty"`
}

// Response is the CredentialProviderResponse the kubelet reads: with
// its strict decoder, so it holds the schema's fields and no others.
type Response struct {
	APIVersion    string                `json:"apiVersion"`
	Kind          string                `json:"kind"`
	CacheKeyType  string                `json:"cacheKeyType"`
	CacheDuration string                `json:"cacheDuration,omitempty"`
	Auth          map[string]AuthConfig `json:"auth,omitempty"`
}

// AuthConfig is a registry login the kubelet hands to the runtime.
type AuthConfig struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Options tune the exchange.
type Options struct {
	// Client sends the exchange (default: 20 s timeout).
	Client *http.Client
	// Now is the clock the cache duration is computed on.
	Now func() time.Time
}

// maxRequest bounds what is read from the kubelet and the registry.
const maxRequest = 1 << 20

// cacheMargin is taken off the registry token's life for the kubelet's
// cache, so a cached credential is never handed out in its last
// moments.
const cacheMargin = 30 * time.Second

// Run reads one request from in and writes the response to out.
func Run(ctx context.Context, in io.Reader, out io.Writer, o Options) error {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 20 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	b, err := io.ReadAll(io.LimitReader(in, maxRequest))
	if err != nil {
		return fmt.Errorf("read the kubelet's request: %w", err)
	}
	var req Request
	if err := json.Unmarshal(b, &req); err != nil {
		return fmt.Errorf("the kubelet's request is not JSON: %w", err)
	}
	if req.APIVersion != APIVersion || req.Kind != "CredentialProviderRequest" {
		return fmt.Errorf("request is %s %s; only %s CredentialProviderRequest is spoken (set apiVersion: %s in the kubelet's CredentialProviderConfig)", req.APIVersion, req.Kind, APIVersion, APIVersion)
	}
	img, err := parseImage(req.Image)
	if err != nil {
		return err
	}
	res := Response{APIVersion: APIVersion, Kind: "CredentialProviderResponse", CacheKeyType: "Image"}
	if req.ServiceAccountToken == "" {
		// A pod without a service account (requireServiceAccount:
		// false): no credentials, so a public image still pulls.
		res.CacheDuration = "0s"
		return json.NewEncoder(out).Encode(res)
	}
	tok, life, err := exchange(ctx, o.Client, img, req.ServiceAccountToken)
	if err != nil {
		return err
	}
	cache := max(life-cacheMargin, 0)
	res.CacheDuration = cache.String()
	res.Auth = map[string]AuthConfig{img.host + "/" + img.repo: {Username: img.tenancy + "/oidc", Password: tok}}
	return json.NewEncoder(out).Encode(res)
}

// image is what the provider needs of an image reference.
type image struct {
	host, repo, tenancy string
}

// parseImage splits "host[:port]/tenancy/name[:tag][@digest]".
func parseImage(ref string) (image, error) {
	host, path, ok := strings.Cut(ref, "/")
	if !ok || host == "" || !strings.ContainsAny(host, ".:") && host != "localhost" {
		return image{}, fmt.Errorf("image %q names no registry host", ref)
	}
	path, _, _ = strings.Cut(path, "@")
	if i := strings.LastIndex(path, ":"); i > strings.LastIndex(path, "/") {
		path = path[:i]
	}
	tenancy, rest, _ := strings.Cut(path, "/")
	if tenancy == "" || rest == "" {
		return image{}, fmt.Errorf("image %q is not <registry>/<tenancy>/<repository>", ref)
	}
	return image{host: host, repo: path, tenancy: tenancy}, nil
}

// tokenURL is the registry's /token: https, except on a loopback host,
// where a registry on this machine (berth serve) listens on http.
func tokenURL(host string) string {
	scheme := "https"
	h := host
	if sh, _, err := net.SplitHostPort(host); err == nil {
		h = sh
	}
	if ip := net.ParseIP(strings.Trim(h, "[]")); h == "localhost" || (ip != nil && ip.IsLoopback()) {
		scheme = "http"
	}
	return scheme + "://" + host + "/token"
}

// exchange trades the service account token for a registry token that
// pulls the image's repository (RFC 8693 token exchange at /token).
func exchange(ctx context.Context, client *http.Client, img image, saToken string) (string, time.Duration, error) {
	scope := "repository:" + img.repo + ":pull"
	form := url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {saToken},
		"subject_token_type": {"urn:ietf:params:oauth:token-type:jwt"},
		"audience":           {img.tenancy},
		"scope":              {scope},
	}
	u := tokenURL(img.host)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		return "", 0, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := client.Do(req)
	if err != nil {
		return "", 0, fmt.Errorf("token exchange at %s: %w", u, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxRequest))
	if err != nil {
		return "", 0, fmt.Errorf("token exchange at %s: %w", u, err)
	}
	var body struct {
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
		Scope       string `json:"scope"`
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(b, &body)
	switch {
	case res.StatusCode != http.StatusOK && body.Error != "":
		return "", 0, fmt.Errorf("the registry refused the service account token (%s): %s", body.Error, body.Description)
	case res.StatusCode != http.StatusOK:
		return "", 0, fmt.Errorf("token exchange at %s answered %s", u, res.Status)
	case body.AccessToken == "":
		return "", 0, errors.New("the registry's answer holds no access_token")
	case !strings.Contains(" "+body.Scope+" ", " "+scope+" "):
		return "", 0, fmt.Errorf("the registry grants %s/oidc no pull on %s: the federation rule's group needs read there (granted: %q)", img.tenancy, img.repo, body.Scope)
	}
	return body.AccessToken, time.Duration(body.ExpiresIn) * time.Second, nil
}
