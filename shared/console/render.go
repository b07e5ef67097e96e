package console

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/reqinfo"
	"github.com/berth-registry/berth/shared/route"
)

// Templates: layout.html holds the frame every page shares (the
// "layout" template, which calls the page's "content"); each other
// file is one page, named by its file name without .html.
//
//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Page is what every template is given: who is signed in, where, and
// the page's own data.
type Page struct {
	Who authz.Actor
	// Tenancy is the tenancy the page works in: the actor's, or one an
	// operator switched to.
	Tenancy string
	// Tenancies are the tenancies an operator may switch to (none for
	// anyone else).
	Tenancies []string
	// Path is the request's path; Host the registry's host, for
	// commands (docker login, pull).
	Path, Host string
	// Title is the page's title; Nav the navigation entry it belongs to.
	Title, Nav string
	// Notice is a message of success to show at the top; Error one of
	// failure (a refused form, say).
	Notice, Error string
	// Data is the page's own.
	Data any
	now  time.Time
}

// Link is path within the console, keeping the tenancy an operator
// switched to.
func (p *Page) Link(pth string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if p != nil && p.Tenancy != p.Who.Tenancy {
		q.Set("tenancy", p.Tenancy)
	}
	u := route.ConsolePath + pth
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// Ago says how long before the page's time t was ("3 hours ago"); "—"
// for the zero time.
func (p *Page) Ago(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	d := p.now.Sub(t)
	switch {
	case d < 0:
		return "just now"
	case d < time.Minute:
		return "just now"
	case d < time.Hour:
		return plural(int(d/time.Minute), "minute") + " ago"
	case d < 48*time.Hour:
		return plural(int(d/time.Hour), "hour") + " ago"
	}
	return plural(int(d/(24*time.Hour)), "day") + " ago"
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// pages are the templates, each parsed (into the layout) when first
// rendered: parsing all eleven takes about 2 ms, which a function's
// start would pay for pages its first request does not show
// (docs/lambda-mode.md, cold start). TestEveryPageParses parses them all.
type pages struct {
	layout func() (*template.Template, error)
	mu     sync.Mutex
	byName map[string]*template.Template
}

func newPages() *pages {
	return &pages{byName: map[string]*template.Template{}, layout: sync.OnceValues(func() (*template.Template, error) {
		return template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html")
	})}
}

// get returns page name in the layout, parsing it on first use.
func (p *pages) get(name string) (*template.Template, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t, ok := p.byName[name]; ok {
		return t, nil
	}
	f := "templates/" + name + ".html"
	if name == "layout" || !fs.ValidPath(f) {
		return nil, fmt.Errorf("console: no template %q", name)
	}
	if _, err := fs.Stat(templateFS, f); err != nil {
		return nil, fmt.Errorf("console: no template %q", name)
	}
	base, err := p.layout()
	if err != nil {
		return nil, err
	}
	t, err := template.Must(base.Clone()).ParseFS(templateFS, f)
	if err != nil {
		return nil, err
	}
	p.byName[name] = t
	return t, nil
}

var funcs = template.FuncMap{
	"bytes": humanBytes,
	"time": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"iso": func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"short": func(d fmt.Stringer) string {
		s := d.String()
		if _, hex, ok := strings.Cut(s, ":"); ok && len(hex) > 12 {
			return hex[:12]
		}
		return s
	},
	"join": strings.Join,
	"add":  func(a, b int) int { return a + b },
}

// parsePages parses the layout with each page, as rendering them would.
func parsePages() (*pages, error) {
	files, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	p := newPages()
	for _, f := range files {
		if name := strings.TrimSuffix(path.Base(f), ".html"); name != "layout" {
			if _, err := p.get(name); err != nil {
				return nil, fmt.Errorf("%s: %w", f, err)
			}
		}
	}
	return p, nil
}

// render writes page name with p, whole (into the layout).
func (c *Console) render(w http.ResponseWriter, status int, name string, p *Page) error {
	t, err := c.pages.get(name)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", p); err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
	return nil
}

// errorView is the error page's data.
type errorView struct {
	Status    int
	Heading   string
	Message   string
	RequestID string
}

// fail renders err as an error page: an *errcode.Error's message and
// status (its text is for the user); anything else is logged with the
// request id and shown as that id alone.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, p *Page, err error) {
	v := errorView{Status: http.StatusInternalServerError, Heading: "Something went wrong",
		Message: "The console could not finish this request. Try again; if it keeps failing, give your operator the request id below."}
	var e *errcode.Error
	if errors.As(err, &e) {
		v.Status, v.Message = e.HTTPStatus(), e.Message
		switch {
		case v.Status == http.StatusUnauthorized:
			http.Redirect(w, r, route.SignInPath, http.StatusSeeOther)
			return
		case v.Status == http.StatusForbidden:
			v.Heading = "Not allowed"
		case v.Status == http.StatusNotFound:
			v.Heading = "Not found"
		case v.Status == http.StatusServiceUnavailable:
			v.Heading = "Try again"
		case v.Status < 500:
			v.Heading = "That did not work"
		}
	} else {
		c.cfg.Log.ErrorContext(r.Context(), "console request failed", "method", r.Method, "path", r.URL.Path, "error", err.Error())
	}
	if info := reqinfo.From(r.Context()); info != nil {
		v.RequestID = info.ID
	}
	if p == nil {
		p = &Page{Path: r.URL.Path, now: c.cfg.Now()}
		if d, ok := authz.DecisionFrom(r.Context()); ok {
			p.Who.Principal = d.Principal
			p.Tenancy = d.Principal.Tenancy
		}
	}
	p.Title, p.Data = v.Heading, v
	if err := c.render(w, v.Status, "error", p); err != nil {
		c.cfg.Log.ErrorContext(r.Context(), "console error page failed", "error", err.Error())
		http.Error(w, v.Message, v.Status)
	}
}

// static serves the embedded assets (htmx, the style sheet, the
// console's script), cached for an hour: they change with a release.
func static() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix(route.ConsolePath+"/static/", http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		files.ServeHTTP(w, r)
	})
}

// humanBytes writes a size in B, KB, MB, GB (powers of 1000, as
// registries and docker show them).
func humanBytes(n int64) string {
	if n < 1000 {
		return strconv.FormatInt(n, 10) + " B"
	}
	f := float64(n)
	for _, u := range []string{"kB", "MB", "GB", "TB"} {
		f /= 1000
		if f < 1000 || u == "TB" {
			if f < 10 {
				return strconv.FormatFloat(f, 'f', 1, 64) + " " + u
			}
			return strconv.FormatFloat(f, 'f', 0, 64) + " " + u
		}
	}
	return ""
}
