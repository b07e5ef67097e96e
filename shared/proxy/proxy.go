// Package proxy is `berth proxy`: a registry endpoint on the user's
// machine that forwards to a Berth registry with the user's credentials,
// so that an unchanged `docker push 127.0.0.1:5001/<ns>/<repo>:<tag>`
// sends layers of any size. Docker streams each layer in one request,
// which no API Gateway request can carry; the proxy cuts the stream into
// parts as it arrives and sends them straight to storage as a direct
// upload (docs/direct-uploads.md), in parallel, then completes the
// upload once the registry verified it. Everything else — manifests,
// tags, blob HEADs, pulls (blob GETs are passed through as redirects to
// storage) — is forwarded as it is. Downstream it is anonymous: it is
// meant for 127.0.0.1, where the credentials are the user's own.
package proxy

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/push"
	"github.com/berth-registry/berth/shared/route"
)

// Proxy serves the distribution API by forwarding to Client's registry,
// turning uploads into direct uploads.
type Proxy struct {
	// Client reaches the registry, as the user.
	Client *push.Client
	// Uploader sends parts (its PartSize and Parallel apply).
	Uploader *push.Uploader
	// Log gets a line per pushed blob and per failure.
	Log *slog.Logger
	// IdleTTL is how long an upload without requests is kept (1 hour
	// when 0).
	IdleTTL time.Duration

	mu       sync.Mutex
	sessions map[string]*session
}

// New returns a proxy to c's registry.
func New(c *push.Client, up *push.Uploader, log *slog.Logger) *Proxy {
	if log == nil {
		log = slog.Default()
	}
	return &Proxy{Client: c, Uploader: up, Log: log, sessions: map[string]*session{}}
}

// ServeHTTP implements http.Handler.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	m, ok := route.Find(r.Method, r.URL.EscapedPath())
	switch {
	case !ok:
		errcode.Write(w, r, errcode.New(errcode.Unsupported, "the proxy serves the registry API under /v2/ only").WithStatus(http.StatusNotFound))
	case m.Route.Function == route.Base && (r.URL.Path == "/v2/" || r.URL.Path == "/v2"):
		// Anonymous downstream: docker sends no credentials to a
		// registry that does not ask for them.
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, "{}")
	case m.Route.Function == route.Uploads:
		if err := p.upload(w, r, m); err != nil {
			p.fail(w, r, err)
		}
	default:
		p.forward(w, r, m.Name())
	}
}

// fail writes err for docker: the registry's own error when it answered
// one, else a spec error.
func (p *Proxy) fail(w http.ResponseWriter, r *http.Request, err error) {
	var e *errcode.Error
	var pe *push.Error
	switch {
	case errors.As(err, &e):
	case errors.As(err, &pe) && pe.Code != "":
		e = &errcode.Error{Code: errcode.Code(pe.Code), Message: pe.Message, Status: pe.Status}
	default:
		p.Log.Error("proxy request failed", "method", r.Method, "path", r.URL.Path, "error", err.Error())
		e = errcode.New(errcode.Unknown, "the proxy could not reach the registry: %v", err).WithStatus(http.StatusBadGateway)
	}
	errcode.Write(w, r, e)
}

// hop lists headers that belong to one connection, not the request.
var hop = map[string]bool{
	"Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "Te": true, "Trailer": true,
	"Transfer-Encoding": true, "Upgrade": true, "Authorization": true, "Host": true, "Content-Length": true,
}

// forward sends r to the registry as the user and relays the answer: a
// blob GET's 307 to storage goes to docker as it is.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, repo string) {
	body, err := io.ReadAll(io.LimitReader(r.Body, oci.MaxManifestSize+1))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if len(body) > oci.MaxManifestSize {
		errcode.Write(w, r, errcode.New(errcode.SizeInvalid, "request body over %d bytes", oci.MaxManifestSize).WithStatus(http.StatusRequestEntityTooLarge))
		return
	}
	if len(body) == 0 {
		body = nil
	}
	h := http.Header{}
	for k, vs := range r.Header {
		if !hop[k] {
			h[k] = vs
		}
	}
	ref := r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		ref += "?" + r.URL.RawQuery
	}
	res, err := p.Client.Do(r.Context(), r.Method, ref, body, h, repo)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	defer res.Body.Close()
	for k, vs := range res.Header {
		if !hop[k] && k != "Www-Authenticate" {
			w.Header()[k] = vs
		}
	}
	if loc := res.Header.Get("Location"); strings.HasPrefix(loc, "/") && !strings.HasPrefix(loc, "/v2/") {
		// A path on the registry that is not the API (signed storage
		// URLs of the embedded store): absolute, so docker reaches it.
		w.Header().Set("Location", p.Client.URL(loc))
	}
	if cl := res.Header.Get("Content-Length"); cl != "" {
		w.Header().Set("Content-Length", cl)
	}
	w.WriteHeader(res.StatusCode)
	if r.Method != http.MethodHead {
		_, _ = io.Copy(w, res.Body)
	}
}
