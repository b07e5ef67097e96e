// Package route is Berth's one route table: every API route, the function
// that serves it, and API Gateway's rule for choosing among them. The CDK
// stack creates its HTTP API routes from Table(), the local gateway
// dispatches with Match, and handlers read their path parameters from the
// Match the gateway (or API Gateway's event) produced.
//
// API Gateway's path variables match exactly one segment and a greedy
// {proxy+} must come last, so a repository name with slashes cannot be one
// variable in the middle of a path. Each route shape is therefore expanded
// over name depths 1..MaxDepth as /v2/{n1}/.../{nK}/manifests/{ref}.
// A deeper name falls through to the catch-all route, whose function
// answers NAME_INVALID saying how deep names may go.
package route

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"

	"github.com/berth-registry/berth/shared/oci"
)

// MaxDepth is the deepest repository name (in slash-separated components)
// the API serves, the limit the name grammar holds (oci.MaxComponents).
// With 14 routes per depth plus the fixed ones the HTTP API stays well
// under API Gateway's default quota of 300 routes per API.
const MaxDepth = oci.MaxComponents

// Function names: each is one Lambda function (functions/<name>).
const (
	Base      = "base"
	Manifests = "manifests"
	Blobs     = "blobs"
	Uploads   = "uploads"
	Tags      = "tags"
	Referrers = "referrers"
	Catalog   = "catalog"
	// Token is the Docker token-auth endpoint; it authenticates callers
	// itself, so it is the one function without the authorizer.
	Token = "token"
	// Admin is the admin API under /api.
	Admin = "admin"
	// Console is the web console under /console (shared/console).
	Console = "console"
	// Authorizer is the Lambda authorizer every other route runs first;
	// it serves no route itself.
	Authorizer = "authorizer"
)

// RegistryFunctions are the functions serving the distribution API.
var RegistryFunctions = []string{Base, Manifests, Blobs, Uploads, Tags, Referrers, Catalog}

// Functions lists every function the route table dispatches to: the
// registry functions, then Token, Admin and Console.
var Functions = []string{Base, Manifests, Blobs, Uploads, Tags, Referrers, Catalog, Token, Admin, Console}

// Any is the method of a route that answers every method.
const Any = "ANY"

// Route is one API Gateway route: a method and path template, and the
// function that serves it.
type Route struct {
	Method   string
	Path     string
	Function string
	// Depth is the number of repository-name segments in Path (0 for
	// routes without a name).
	Depth int
	// Action is what the route does to its repository, for access
	// control: ActionPull, ActionPush, ActionDelete, ActionCatalog, or
	// "" (no repository).
	Action string
	// NoAuth marks the route API Gateway serves without the authorizer.
	NoAuth bool
	// Anonymous marks a console route the authorizer lets through
	// without a session (the sign-in page, static assets); every other
	// console route needs one.
	Anonymous bool
}

// Actions a route performs, evaluated by the authorizer.
const (
	ActionPull    = "pull"
	ActionPush    = "push"
	ActionDelete  = "delete"
	ActionCatalog = "catalog"
)

// Key is the API Gateway route key, "METHOD /path".
func (r Route) Key() string { return r.Method + " " + r.Path }

// shape is a route pattern before expansion; "{name}" stands for the
// repository name's segments.
type shape struct {
	methods  []string
	suffix   string // after /v2/{name}
	function string
}

var shapes = []shape{
	{[]string{"GET", "HEAD", "PUT", "DELETE"}, "/manifests/{ref}", Manifests},
	{[]string{"GET", "HEAD", "DELETE"}, "/blobs/{digest}", Blobs},
	{[]string{"POST"}, "/blobs/uploads", Uploads},
	{[]string{"GET", "PATCH", "PUT", "DELETE"}, "/blobs/uploads/{id}", Uploads},
	{[]string{"GET"}, "/tags/list", Tags},
	{[]string{"GET"}, "/referrers/{digest}", Referrers},
}

// actionOf is the access a repository route needs: reads pull, DELETE of
// content deletes, everything else (uploads, manifest PUT) pushes.
func actionOf(method, function string) string {
	switch {
	case method == "GET" || method == "HEAD":
		if function == Uploads {
			return ActionPush // upload status belongs to the pusher
		}
		return ActionPull
	case method == "DELETE" && function != Uploads:
		return ActionDelete
	}
	return ActionPush
}

// fixed are the routes without a repository name, first in the table.
// Like shapes, they are constant data the linker lays out: a function's
// start builds no table (docs/lambda-mode.md, cold start).
var fixed = [...]Route{
	{Method: "GET", Path: "/v2", Function: Base},
	{Method: "HEAD", Path: "/v2", Function: Base},
	{Method: "GET", Path: "/v2/_catalog", Function: Catalog, Action: ActionCatalog},
	{Method: "GET", Path: "/token", Function: Token, NoAuth: true},
	{Method: "POST", Path: "/token", Function: Token, NoAuth: true},
	{Method: Any, Path: "/api/{proxy+}", Function: Admin},
	// The console: its pages need a session, but for the sign-in page
	// and the static assets. Signing in turns an auth token into a
	// session token, which is the token function's work: it alone
	// holds the signing key (docs/console.md).
	{Method: Any, Path: ConsolePath, Function: Console},
	{Method: Any, Path: ConsolePath + "/{proxy+}", Function: Console},
	{Method: "GET", Path: SignInPath, Function: Console, Anonymous: true},
	{Method: "POST", Path: SignInPath, Function: Token, NoAuth: true},
	{Method: "GET", Path: ConsolePath + "/static/{proxy+}", Function: Console, Anonymous: true},
}

// catchAllRoute is the table's last route: everything else under /v2
// reaches the base function, which answers with the spec error that
// fits (a name too deep, an unknown route).
var catchAllRoute = Route{Method: Any, Path: catchAll, Function: Base}

// Table returns every route, in a stable order.
func Table() []Route {
	routes := append([]Route{}, fixed[:]...)
	for depth := 1; depth <= MaxDepth; depth++ {
		prefix := "/v2"
		for i := range depth {
			prefix += "/{" + nameParam(i) + "}"
		}
		for _, s := range shapes {
			for _, m := range s.methods {
				routes = append(routes, Route{Method: m, Path: prefix + s.suffix, Function: s.function, Depth: depth, Action: actionOf(m, s.function)})
			}
		}
	}
	return append(routes, catchAllRoute)
}

// lookup returns the route of Table() with this method and path,
// parsing the path against fixed and shapes rather than searching a
// built table: every Lambda invocation finds its route here, and none
// pays for building the table at start.
func lookup(method, path string) (Route, bool) {
	for _, r := range fixed {
		if r.Method == method && r.Path == path {
			return r, true
		}
	}
	if method == catchAllRoute.Method && path == catchAllRoute.Path {
		return catchAllRoute, true
	}
	rest, ok := strings.CutPrefix(path, "/v2")
	depth := 0
	for ok && depth < MaxDepth {
		var cut bool
		if rest, cut = strings.CutPrefix(rest, "/{"+nameParam(depth)+"}"); !cut {
			break
		}
		depth++
	}
	if !ok || depth == 0 {
		return Route{}, false
	}
	for _, s := range shapes {
		if s.suffix == rest && slices.Contains(s.methods, method) {
			return Route{Method: method, Path: path, Function: s.function, Depth: depth, Action: actionOf(method, s.function)}, true
		}
	}
	return Route{}, false
}

// Console paths: the console's root, its sign-in page (GET, served by
// the console; POST, by the token function) and its static assets.
const (
	ConsolePath = "/console"
	SignInPath  = ConsolePath + "/sign-in"
)

// Match is a route chosen for a request, with its path parameters.
type Match struct {
	Route  Route
	Params map[string]string
}

// Name is the repository name: the n1..nK parameters joined with '/'.
func (m Match) Name() string {
	switch {
	case m.Route.Depth == 0:
		return ""
	case m.Route.Depth == 1:
		return m.Params[nameParams[0]]
	}
	n := m.Route.Depth - 1
	for i := range m.Route.Depth {
		n += len(m.Params[nameParam(i)])
	}
	var b strings.Builder
	b.Grow(n)
	for i := range m.Route.Depth {
		if i > 0 {
			b.WriteByte('/')
		}
		b.WriteString(m.Params[nameParam(i)])
	}
	return b.String()
}

// nameParams are the names of the name segments' parameters, n1..n8
// (every request asks for them: spared formatting).
var nameParams = [...]string{"n1", "n2", "n3", "n4", "n5", "n6", "n7", "n8"}

func nameParam(i int) string {
	if i < len(nameParams) {
		return nameParams[i]
	}
	return fmt.Sprintf("n%d", i+1)
}

// Param returns one path parameter ("ref", "digest", "id", "proxy").
func (m Match) Param(k string) string { return m.Params[k] }

// Router matches requests against a route table.
type Router struct {
	routes []compiled
	// bySegs indexes the non-greedy routes by segment count, and greedy
	// lists the greedy ones: a request is only compared with routes that
	// can match its length.
	bySegs map[int][]int
	greedy []int
}

type compiled struct {
	Route
	segs   []string
	greedy bool
}

// NewRouter compiles routes for matching.
func NewRouter(routes []Route) *Router {
	r := &Router{}
	for _, rt := range routes {
		segs := split(rt.Path)
		c := compiled{Route: rt, segs: segs}
		if n := len(segs); n > 0 && strings.HasSuffix(segs[n-1], "+}") {
			c.greedy = true
		}
		if c.greedy {
			r.greedy = append(r.greedy, len(r.routes))
		} else {
			if r.bySegs == nil {
				r.bySegs = map[int][]int{}
			}
			r.bySegs[len(segs)] = append(r.bySegs[len(segs)], len(r.routes))
		}
		r.routes = append(r.routes, c)
	}
	return r
}

// defaultRouter is the router of Table(), built on first use: a Lambda
// function matches its requests by route key (FromKey) and needs it
// only for a request that names no route of the table.
var defaultRouter = sync.OnceValue(func() *Router { return NewRouter(Table()) })

// Find matches a request against the default table. See Router.Find.
func Find(method, rawPath string) (Match, bool) { return defaultRouter().Find(method, rawPath) }

// Find chooses the route for a request the way API Gateway HTTP APIs do:
// the most specific route wins, where a route without a greedy variable
// beats one with it, a literal segment beats a variable at the first
// segment where two candidates differ, and an explicit method beats ANY.
// A trailing slash is ignored for matching (route keys cannot end in '/').
// rawPath is the request path as sent (percent-encoded); parameter values
// are decoded. Sources are listed in docs/gateway-facts.md.
func (r *Router) Find(method, rawPath string) (Match, bool) {
	m, ok := r.find(method, rawPath)
	if ok && m.Route.Path == catchAll && strings.HasSuffix(rawPath, "/") {
		// Should API Gateway not strip a trailing slash before matching
		// (AWS documents nothing; docs/gateway-facts.md §2), docker's
		// "POST /v2/<name>/blobs/uploads/" reaches the catch-all: resolve
		// it as the route it names, so the authorizer and the base
		// function agree on what it is.
		if alt, ok := r.find(method, strings.TrimRight(rawPath, "/")); ok && alt.Route.Path != catchAll {
			return alt, true
		}
	}
	return m, ok
}

// catchAll is the path of the route that takes every other /v2 request.
const catchAll = "/v2/{proxy+}"

func (r *Router) find(method, rawPath string) (Match, bool) {
	segs := split(rawPath)
	var best *compiled
	for _, list := range [2][]int{r.bySegs[len(segs)], r.greedy} {
		for _, i := range list {
			c := &r.routes[i]
			if c.Method != method && c.Method != Any {
				continue
			}
			if !c.matches(segs) {
				continue
			}
			if best == nil || c.moreSpecific(best) {
				best = c
			}
		}
	}
	if best == nil {
		return Match{}, false
	}
	// Only the chosen route pays for its parameters.
	return Match{Route: best.Route, Params: best.params(segs)}, true
}

// matches reports whether the route matches a request's segments.
func (c *compiled) matches(segs []string) bool {
	if c.greedy {
		if len(segs) < len(c.segs) {
			return false
		}
	} else if len(segs) != len(c.segs) {
		return false
	}
	for i, p := range c.segs {
		if isVar(p) {
			if segs[i] == "" && (!c.greedy || i < len(c.segs)-1) {
				return false
			}
		} else if p != segs[i] {
			return false
		}
	}
	return true
}

// params are the path parameters of segments the route matches,
// decoded.
func (c *compiled) params(segs []string) map[string]string {
	var params map[string]string
	for i, p := range c.segs {
		if !isVar(p) {
			continue
		}
		if params == nil {
			params = map[string]string{}
		}
		name := strings.Trim(p, "{}+")
		if c.greedy && i == len(c.segs)-1 {
			params[name] = unescape(strings.Join(segs[i:], "/"))
			return params
		}
		params[name] = unescape(segs[i])
	}
	return params
}

func (c *compiled) moreSpecific(o *compiled) bool {
	if c.greedy != o.greedy {
		return !c.greedy
	}
	for i := 0; i < len(c.segs) && i < len(o.segs); i++ {
		cv, ov := isVar(c.segs[i]), isVar(o.segs[i])
		if cv != ov {
			return !cv
		}
	}
	if (c.Method == Any) != (o.Method == Any) {
		return c.Method != Any
	}
	return false
}

func isVar(seg string) bool { return strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") }

func split(p string) []string {
	p = strings.TrimPrefix(p, "/")
	p = strings.TrimSuffix(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func unescape(s string) string {
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}
