// Package doctor probes a deployed registry's front door the way docker
// and containerd use it — challenge, token login, a tiny push and pull —
// and reports, per check, what it saw, what a client needs, and the
// stack option or setting that fixes a failure (docs/architecture.md §6). It is a
// plain net/http client: it imports nothing of the registry, so it can
// be pointed at any registry URL.
package doctor

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Options say which registry to probe and as whom.
type Options struct {
	// URL is the registry's base URL (https://host); a bare host means
	// https.
	URL string
	// Username ("<namespace>/<user>") and Password (an auth token) log
	// in; without them only the unauthenticated checks run.
	Username, Password string
	// Insecure skips TLS certificate verification (the tls check still
	// reports whether the certificate would be trusted).
	Insecure bool
	// RootCAs are the certificate authorities trusted (default: the
	// system's), for a registry behind a private CA.
	RootCAs *x509.CertPool
	// Client, when set, sends every request (tests); it must not follow
	// redirects. Default: a client built from Insecure.
	Client *http.Client
	// Now is the local clock (default time.Now).
	Now func() time.Time
}

// Result is one check's outcome: one line of the report.
type Result struct {
	// Name identifies the check (the Check* constants).
	Name string `json:"name"`
	// OK is true when the check passed.
	OK bool `json:"ok"`
	// Skipped is true when the check could not run (say why in Seen).
	Skipped bool `json:"skipped,omitempty"`
	// Seen is what the registry answered.
	Seen string `json:"seen"`
	// Expected is what a client needs, on failure.
	Expected string `json:"expected,omitempty"`
	// Fix is the stack option or setting that fixes a failure.
	Fix string `json:"fix,omitempty"`
}

// Failed reports whether the check ran and failed.
func (r Result) Failed() bool { return !r.OK && !r.Skipped }

// Report is the outcome of one doctor run.
type Report struct {
	// URL is the registry probed.
	URL string `json:"url"`
	// Repository is the generated repository the push went to.
	Repository string `json:"repository,omitempty"`
	// Results are the checks in the order they ran.
	Results []Result `json:"results"`
}

// Failed counts the checks that failed.
func (r *Report) Failed() int {
	n := 0
	for _, res := range r.Results {
		if res.Failed() {
			n++
		}
	}
	return n
}

// Result returns the named check's result, and whether it ran.
func (r *Report) Result(name string) (Result, bool) {
	for _, res := range r.Results {
		if res.Name == name {
			return res, true
		}
	}
	return Result{}, false
}

// run is one doctor run's state, shared by the checks.
type run struct {
	opts   Options
	base   *url.URL
	client *http.Client
	now    func() time.Time
	report *Report

	v2        *response // GET /v2/ without credentials
	realm     string    // token endpoint, from the challenge
	service   string
	anonymous bool   // /v2/ answered 200 without credentials
	basicOnly bool   // the challenge asks for Basic, not a token
	auth      string // Authorization for registry requests
	repo      string
	img       *image
	chunkMax  int64
	sessions  []string // upload sessions to cancel in cleanup
	manDigest string   // manifest pushed, to delete in cleanup
}

// Run probes the registry and returns the report. It fails only when
// the options are unusable; every finding about the registry is a Result.
func Run(ctx context.Context, opts Options) (*Report, error) {
	base, err := parseBase(opts.URL)
	if err != nil {
		return nil, err
	}
	r := &run{opts: opts, base: base, client: opts.Client, now: opts.Now,
		report: &Report{URL: base.String()}}
	if r.client == nil {
		r.client = newClient(opts.Insecure, opts.RootCAs)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if opts.Username != "" {
		r.repo = repoName(opts.Username)
		r.report.Repository = r.repo
	}
	r.add(r.checkChallenge(ctx))
	if r.v2 == nil {
		// Nothing answered: every other check would say the same.
		return r.report, nil
	}
	r.add(r.checkAPIVersion())
	r.add(r.checkClock())
	r.add(r.checkTLS())
	r.add(r.checkToken(ctx))
	r.add(r.checkBasic(ctx))
	r.push(ctx)
	if ctx.Err() != nil {
		// Interrupted: what failed for that reason did not really run.
		for i, res := range r.report.Results {
			if res.Failed() && res.Name != CheckCleanup && strings.Contains(res.Seen, context.Canceled.Error()) {
				r.report.Results[i] = skip(res.Name, "interrupted")
			}
		}
	}
	return r.report, nil
}

func (r *run) add(res Result) { r.report.Results = append(r.report.Results, res) }

// parseBase reads the registry URL; only its scheme and host matter,
// since the distribution API lives at the host root.
func parseBase(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("doctor: no registry URL")
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return nil, fmt.Errorf("doctor: %q is not a registry URL such as https://registry.example.com", s)
	}
	return &url.URL{Scheme: u.Scheme, Host: u.Host}, nil
}

// repoName generates the repository doctor pushes to, in the login's
// namespace, so that it can never collide with a real one.
func repoName(username string) string {
	ns, _, _ := strings.Cut(username, "/")
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return strings.ToLower(ns) + "/berth-doctor-" + hex.EncodeToString(b)
}

func newClient(insecure bool, roots *x509.CertPool) *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.ForceAttemptHTTP2 = true
	// InsecureSkipVerify only on --insecure: the user asked for it.
	t.TLSClientConfig = &tls.Config{RootCAs: roots, InsecureSkipVerify: insecure}
	return &http.Client{
		Transport: t,
		Timeout:   2 * time.Minute,
		// Redirects are checked, not followed: the blob GET's 307 goes to
		// storage, which must not see the registry's credentials.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// response is an answer with its body read.
type response struct {
	*http.Response
	Body []byte
}

// request describes one request to send.
type request struct {
	method, target string // target: a path on the registry or an absolute URL
	body           []byte
	streamed       bool   // send the body without a length (chunked)
	auth           string // Authorization header, "" for none
	header         map[string]string
}

// maxRead bounds what is read of a response body (blobs here are tiny).
const maxRead = 8 << 20

func (r *run) do(ctx context.Context, q request) (*response, error) {
	u, err := r.base.Parse(q.target)
	if err != nil {
		return nil, err
	}
	var body io.Reader
	if q.body != nil {
		body = bytes.NewReader(q.body)
		if q.streamed {
			// Hide the length: net/http then sends Transfer-Encoding:
			// chunked on HTTP/1.1, as docker does for a layer PATCH.
			body = struct{ io.Reader }{body}
		}
	}
	req, err := http.NewRequestWithContext(ctx, q.method, u.String(), body)
	if err != nil {
		return nil, err
	}
	if q.streamed {
		req.ContentLength = -1
	}
	req.Header.Set("User-Agent", "berth-doctor/1")
	if q.auth != "" {
		req.Header.Set("Authorization", q.auth)
	}
	for k, v := range q.header {
		req.Header.Set(k, v)
	}
	res, err := r.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(io.LimitReader(res.Body, maxRead))
	if err != nil {
		return nil, fmt.Errorf("reading the answer to %s %s: %w", q.method, u.Path, err)
	}
	return &response{Response: res, Body: b}, nil
}

// ok, fail and skip build results.
func ok(name, seen string) Result { return Result{Name: name, OK: true, Seen: seen} }

func fail(name, seen, expected, fix string) Result {
	return Result{Name: name, Seen: seen, Expected: expected, Fix: fix}
}

func skip(name, why string) Result { return Result{Name: name, Skipped: true, Seen: why} }
