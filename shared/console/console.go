// Package console is Berth's web console (functions/console, under
// /console): server-rendered html/template pages, enhanced with htmx
// where a browser runs scripts and whole without them.
//
// The console is a client of the admin API's own services, called in
// process with the signed-in user as the actor: a page shows and a form
// does exactly what the same user could through /api, decided by the
// same code. The authorizer decides console routes by the session cookie
// (shared/authz's session.go); this package enforces that decision,
// refuses cross-origin writes (http.CrossOriginProtection) and sends a
// strict Content-Security-Policy with every answer. docs/console.md
// tells the whole story.
package console

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/berth-registry/berth/shared/admin"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/retention"
	"github.com/berth-registry/berth/shared/route"
	"github.com/berth-registry/berth/shared/store"
)

// Config is what the console is built from.
type Config struct {
	// IDs reads the signed-in user's groups (authz.ActorFrom) and the
	// tenancies an operator may switch to.
	IDs store.Identity
	// Tenancy is the bootstrap tenancy, whose administrators operate
	// every tenancy.
	Tenancy string
	// Repos and Images are the admin API's services (shared/admin's
	// *API); Deleter deletes images as the registry does.
	Repos   Repos
	Images  Images
	Deleter ImageDeleter
	// Now is the clock pages show times against (nil: the wall clock).
	Now func() time.Time
	// Log logs failures with the request id.
	Log *slog.Logger
	// Admin is the admin API's services (repositories, images, users,
	// groups, tokens, policies, audit), called in process.
	Admin *admin.API
	// Retention is the retention API's services (policies, previews,
	// runs, the recycle bin, pins), called in process.
	Retention *retention.API
}

// Console serves /console.
type Console struct {
	cfg     Config
	mux     *http.ServeMux
	pages   *pages
	protect *http.CrossOriginProtection
	handler http.Handler
}

// HandlerFunc is a console endpoint: it renders its answer, or returns
// the error the console renders as a page.
type HandlerFunc func(w http.ResponseWriter, r *http.Request, p *Page) error

// New returns the console. It expects to run behind nothing but the
// Lambda adapter: it enforces the authorizer's decision itself.
func New(cfg Config) (*Console, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	// The admin API's *API is both: a console given only it uses it for
	// the repository pages too.
	if cfg.Repos == nil && cfg.Admin != nil {
		cfg.Repos = cfg.Admin
	}
	if cfg.Images == nil && cfg.Admin != nil {
		cfg.Images = cfg.Admin
	}
	c := &Console{cfg: cfg, mux: http.NewServeMux(), pages: newPages(), protect: http.NewCrossOriginProtection()}
	c.protect.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, nil, errCrossOrigin)
	}))
	c.routes()
	c.handler = securityHeaders(authz.EnforceWith(c.protect.Handler(c.mux), c.refused))
	return c, nil
}

// errCrossOrigin refuses a write from another site (a forged form).
var errCrossOrigin = errcode.New(errcode.Denied, "this change came from another site, and was refused: make it from the console itself")

// Handle adds a page endpoint on pattern ("GET /console/retention"):
// the page is given the signed-in actor and the tenancy it works in.
// Pages of other files (retention, access) add themselves with it.
func (c *Console) Handle(pattern string, h HandlerFunc) {
	c.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		p, err := c.page(r)
		if err == nil {
			err = h(w, r, p)
		}
		if err != nil {
			c.fail(w, r, p, err)
		}
	})
}

// routes adds every endpoint of the console.
func (c *Console) routes() {
	c.mux.Handle("GET "+route.ConsolePath+"/static/", static())
	c.mux.HandleFunc("GET "+route.SignInPath, c.signInPage)
	c.mux.HandleFunc("POST "+route.ConsolePath+"/sign-out", c.signOut)
	c.mux.HandleFunc("GET "+route.ConsolePath+"/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, route.ConsolePath+"/repositories", http.StatusSeeOther)
	})
	c.mux.HandleFunc("GET "+route.ConsolePath, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, route.ConsolePath+"/repositories", http.StatusSeeOther)
	})
	c.Handle("GET "+route.ConsolePath+"/connect", c.connect)
	c.repositoryRoutes()
	c.retentionRoutes()
	c.accessRoutes()
	c.mux.HandleFunc(route.ConsolePath+"/", func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, r, nil, errcode.New(errcode.NotFound, "there is no console page at %s", r.URL.Path))
	})
}

// ServeHTTP implements http.Handler.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) { c.handler.ServeHTTP(w, r) }

// csp is every answer's Content-Security-Policy: scripts, styles and
// everything else from the console's own origin only; no inline script
// or style, no eval, no framing, forms posting only to the console.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// securityHeaders sets the headers every console answer carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, route.ConsolePath+"/static/") {
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// refused answers a request the authorizer refused: a page needing a
// session sends the browser to sign in (htmx is told to do so with the
// whole page); anything else gets an error page.
func (c *Console) refused(w http.ResponseWriter, r *http.Request, d authz.Decision) {
	if d.Status == http.StatusUnauthorized {
		u := route.SignInPath
		if next := authz.LocalConsolePath(r.URL.RequestURI()); r.Method == http.MethodGet && next != route.ConsolePath {
			u += "?" + url.Values{"next": {next}}.Encode()
		}
		if r.Header.Get("HX-Request") == "true" {
			w.Header().Set("HX-Redirect", u)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		http.Redirect(w, r, u, http.StatusSeeOther)
		return
	}
	if d.Status == http.StatusServiceUnavailable {
		c.fail(w, r, nil, errcode.New(errcode.Unavailable, "%s", d.Message))
		return
	}
	c.fail(w, r, nil, errcode.New(errcode.Denied, "%s", d.Message))
}

// page reads the request's actor and the tenancy it works in: its own,
// or for an operator the one it chose (?tenancy=).
func (c *Console) page(r *http.Request) (*Page, error) {
	who, err := authz.ActorFrom(r.Context(), c.cfg.IDs, c.cfg.Tenancy)
	if err != nil {
		return nil, err
	}
	p := &Page{Who: who, Tenancy: who.Tenancy, Path: r.URL.Path, Host: r.Host, now: c.cfg.Now()}
	if t := r.URL.Query().Get("tenancy"); t != "" && t != who.Tenancy {
		if !who.Super {
			return p, errcode.New(errcode.Denied, "%s may only work in its own tenancy, %s", who, who.Tenancy)
		}
		if _, err := c.cfg.IDs.GetTenancy(r.Context(), t); errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrInvalid) {
			return p, errcode.New(errcode.NotFound, "tenancy %q does not exist", t)
		} else if err != nil {
			return p, err
		}
		p.Tenancy = t
	}
	if who.Super {
		if p.Tenancies, err = c.tenancies(r.Context()); err != nil {
			return p, err
		}
	}
	return p, nil
}

// tenancies lists the tenancies an operator may switch to.
func (c *Console) tenancies(ctx context.Context) ([]string, error) {
	ts, err := c.cfg.IDs.ListTenancies(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ts))
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out, nil
}
