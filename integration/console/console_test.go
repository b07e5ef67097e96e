// Package console tests the web console (/console) in a real browser:
// headless Chromium driven by chromedp against the whole registry
// started in-process, as `make run` starts it. Screenshots of every
// page land in $BERTH_ARTIFACTS/console (else artifacts/console).
package console

import (
	"context"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/crane"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"

	"github.com/berth-registry/berth/integration/harness"
	berthauth "github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/inprocess"
	"github.com/berth-registry/berth/shared/store"
)

// registry is the whole registry with authentication on, on a random
// 127.0.0.1 port, seeded with a read-only user.
type registry struct {
	t     *testing.T
	host  string
	base  string
	local *inprocess.Local
	// tokens are auth tokens by login.
	tokens map[string]string
}

func start(t *testing.T) *registry { return startWith(t, nil) }

// startWith is start with the configuration changed by edit first.
func startWith(t *testing.T, edit func(*config.Config)) *registry {
	t.Helper()
	base := config.Config{
		Auth: true, Limits: true, PresignTTL: 15 * time.Minute, Service: "berth",
		TokenTTL: 5 * time.Minute, ConsoleSessionTTL: time.Hour, Tenancy: "dev",
	}
	if edit != nil {
		edit(&base)
	}
	cfg := harness.OnBackend(t, "embedded", base)
	host, l := harness.Start(t, cfg)
	r := &registry{t: t, host: host, base: "http://" + host, local: l, tokens: map[string]string{"dev/admin": l.AdminToken}}
	ctx, ids, now := context.Background(), l.Stores.IDs, time.Now().UTC()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("seeding: %v", err)
		}
	}
	must(ids.PutGroup(ctx, store.Group{Tenancy: "dev", Name: "readers", Created: now}))
	must(ids.PutUser(ctx, store.User{Tenancy: "dev", Name: "reader", Groups: []string{"readers"}, Created: now}))
	must(ids.PutPolicy(ctx, store.Policy{Tenancy: "dev", Name: "read", Statements: []string{"allow group readers to read repos in tenancy"}, Updated: now}))
	id, secret, hash := berthauth.NewAuthToken()
	must(ids.PutToken(ctx, store.AuthToken{Tenancy: "dev", User: "reader", ID: id, Hash: hash, Created: now}))
	r.tokens["dev/reader"] = secret
	return r
}

// signIn signs b in as login through the sign-in form.
func (r *registry) signIn(b *browserSession, login string) {
	b.t.Helper()
	b.run("sign in as "+login,
		chromedp.Navigate(r.base+"/console/sign-in"),
		chromedp.WaitVisible(chromedp.CSS("#login")),
		chromedp.SetValue(chromedp.CSS("#login"), login),
		chromedp.SetValue(chromedp.CSS("#token"), r.tokens[login]),
		chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS("nav.nav")),
	)
}

// open navigates b to a console path and waits for its heading.
func (r *registry) open(b *browserSession, path string) {
	b.t.Helper()
	b.run("open "+path, chromedp.Navigate(r.base+path), chromedp.WaitVisible(chromedp.CSS("main h1")))
}

// push pushes a random image of three layers to ref as login, with crane.
func (r *registry) push(ref, login string) v1.Image {
	r.t.Helper()
	img, err := random.Image(3000, 3)
	if err != nil {
		r.t.Fatal(err)
	}
	if err := crane.Push(img, r.host+"/"+ref, crane.Insecure, crane.WithAuth(&authn.Basic{Username: login, Password: r.tokens[login]})); err != nil {
		r.t.Fatalf("crane push %s: %v", ref, err)
	}
	return img
}

// imageSize is what a pull of img downloads besides its manifest: its
// config and layers.
func imageSize(t *testing.T, img v1.Image) int64 {
	t.Helper()
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	n := m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n
}

// sessionCookie returns b's console session cookie.
func sessionCookie(b *browserSession) *network.Cookie {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{})
	if err != nil {
		b.t.Fatalf("read cookies: %v", err)
	}
	for _, c := range res.Cookies {
		if c.Name == "berth_console" {
			return c
		}
	}
	b.t.Fatalf("no berth_console cookie among %d", len(res.Cookies))
	return nil
}

// send makes a request outside the browser, following no redirect.
func send(t *testing.T, method, url string, body io.Reader, header map[string]string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	c := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

func TestConsoleInABrowser(t *testing.T) {
	chromium(t)
	r := start(t)
	admin := newBrowser(t)

	// An anonymous visit goes to the sign-in page; a wrong token is
	// refused there, saying so.
	admin.run("open the console", chromedp.Navigate(r.base+"/console/repositories"), chromedp.WaitVisible(chromedp.CSS("#login")))
	admin.screenshot("sign-in")
	admin.run("sign in with a wrong token",
		chromedp.SetValue(chromedp.CSS("#login"), "dev/admin"),
		chromedp.SetValue(chromedp.CSS("#token"), "bt_aaaaaaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"),
		chromedp.Submit(chromedp.CSS("#token")),
		chromedp.WaitVisible(chromedp.CSS("#signin-problem")))

	r.signIn(admin, "dev/admin")
	loc := get(admin, "where sign-in led", chromedp.Location())
	if !strings.HasSuffix(loc, "/console/repositories") {
		t.Errorf("signed in at %s, want the page asked for, /console/repositories", loc)
	}

	// The session cookie: HttpOnly, SameSite=Strict, Path=/console, and
	// not Secure on loopback http (the browser would drop it).
	c := sessionCookie(admin)
	if !c.HTTPOnly || c.SameSite != network.CookieSameSiteStrict || c.Path != "/console" || c.Secure {
		t.Errorf("session cookie HttpOnly=%v SameSite=%v Path=%q Secure=%v, want true Strict /console false", c.HTTPOnly, c.SameSite, c.Path, c.Secure)
	}
	// ...accepted on /console only: not on /v2/ or /api/, as a cookie
	// or as a Bearer token.
	for _, probe := range []struct{ path, header, value string }{
		{"/v2/", "Cookie", "berth_console=" + c.Value},
		{"/v2/", "Authorization", "Bearer " + c.Value},
		{"/api/repositories", "Cookie", "berth_console=" + c.Value},
		{"/api/repositories", "Authorization", "Bearer " + c.Value},
	} {
		if res := send(t, "GET", r.base+probe.path, nil, map[string]string{probe.header: probe.value}); res.StatusCode != http.StatusUnauthorized {
			t.Errorf("GET %s with the session as %s: %d, want 401", probe.path, probe.header, res.StatusCode)
		}
	}
	if res := send(t, "GET", r.base+"/console/connect", nil, map[string]string{"Cookie": "berth_console=" + c.Value}); res.StatusCode != http.StatusOK ||
		!strings.Contains(res.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Errorf("GET /console/connect with the session: %d, CSP %q; want 200 with a same-origin script policy", res.StatusCode, res.Header.Get("Content-Security-Policy"))
	}

	// Create a repository through the form.
	admin.run("create repository dev/web",
		chromedp.Navigate(r.base+"/console/repositories"),
		chromedp.WaitVisible(chromedp.CSS("#create-link")),
		chromedp.Click(chromedp.CSS("#create-link")),
		chromedp.WaitVisible(chromedp.CSS("#repo-name")),
		chromedp.SetValue(chromedp.CSS("#repo-name"), "web"),
		chromedp.Submit(chromedp.CSS("#repo-name")),
		chromedp.WaitVisible(chromedp.CSS("#repo-path")))
	if got := admin.text("#repo-path"); got != r.host+"/dev/web" {
		t.Errorf("repository path %q, want %q", got, r.host+"/dev/web")
	}
	if _, err := r.local.Stores.Meta.GetRepository(context.Background(), "dev/web"); err != nil {
		t.Fatalf("the created repository: %v", err)
	}

	// Push with crane; the image page shows its layers, size and pusher.
	img := r.push("dev/web:v1", "dev/admin")
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	r.open(admin, "/console/repositories/dev/web")
	if n := admin.count("#image-table tbody tr"); n != 1 {
		t.Errorf("images listed: %d, want 1", n)
	}
	admin.screenshot("repository")
	imagePage := "/console/images/dev/web@" + d.String()
	r.open(admin, imagePage)
	size := get(admin, "read the image size", chromedp.AttributeValue(chromedp.CSS("#image-size"), "data-bytes")).Value
	if want := strconv.FormatInt(imageSize(t, img), 10); size != want {
		t.Errorf("image size %s bytes, want config + layers = %s", size, want)
	}
	if got := admin.text("#pushed-by"); got != "dev/admin" {
		t.Errorf("pushed by %q, want dev/admin", got)
	}
	if n := admin.count("#layer-table tbody tr"); n != 3 {
		t.Errorf("layers listed: %d, want 3", n)
	}
	if got := admin.text("#pull-count"); got != "0" {
		t.Errorf("pulls before any: %q, want 0", got)
	}

	// Pull it; the page counts the pull.
	if _, err := crane.Pull(r.host+"/dev/web:v1", crane.Insecure, crane.WithAuth(&authn.Basic{Username: "dev/admin", Password: r.tokens["dev/admin"]})); err != nil {
		t.Fatalf("crane pull: %v", err)
	}
	r.open(admin, imagePage)
	if got := admin.text("#pull-count"); got != "1" {
		t.Errorf("pulls after one: %q, want 1", got)
	}

	// Copy the pull command: the clipboard holds it.
	want := "docker pull " + r.host + "/dev/web:v1"
	// Pin it: retention keeps it; unpin it again.
	admin.run("pin the image",
		chromedp.SetValue(chromedp.CSS("#pin-note"), "release build"),
		chromedp.Click(chromedp.CSS("#pin")),
		chromedp.WaitVisible(chromedp.CSS("#unpin")))
	if got := admin.text("#retention-status"); !strings.Contains(got, "Pinned") || !strings.Contains(got, "release build") {
		t.Errorf("retention status after pinning: %q", got)
	}
	if ps, err := r.local.Stores.Meta.ListPins(context.Background(), "dev/web"); err != nil || len(ps) != 1 || ps[0].Digest.String() != d.String() {
		t.Errorf("pins after pinning: %v, %v", ps, err)
	}
	admin.screenshot("image")
	admin.run("unpin the image", chromedp.Click(chromedp.CSS("#unpin")), chromedp.WaitVisible(chromedp.CSS("#pin")))
	admin.run("copy the pull command",
		chromedp.Click(chromedp.CSS(`section[aria-labelledby="pull-title"] button[data-copy]`)),
		chromedp.WaitVisible(chromedp.CSS("#toast.show")))
	clip := await[string](admin, "read the clipboard", `navigator.clipboard.readText()`)
	if clip != want {
		t.Errorf("clipboard %q, want %q", clip, want)
	}

	r.push("dev/tools/cli:1", "dev/admin")
	r.open(admin, "/console/repositories")
	if n := admin.count("#repo-table tbody tr"); n != 2 {
		t.Errorf("repositories listed: %d, want 2", n)
	}
	admin.screenshot("repositories")
	// The filter narrows the list as one types (htmx), without a submit.
	admin.run("filter by name",
		chromedp.SendKeys(chromedp.CSS("#repo-filter"), "too"),
		chromedp.WaitNotPresent(chromedp.CSS(`#repo-table a[href$="/dev/web"]`)))
	if n := admin.count("#repo-table tbody tr"); n != 1 || !strings.Contains(admin.text("#repo-table tbody"), "tools/cli") {
		t.Errorf("filtered by \"too\": %d rows (%s), want tools/cli alone", n, admin.text("#repo-table tbody"))
	}
	r.open(admin, "/console/connect")
	admin.screenshot("connect")
	// The other pages, as far as this build has them.
	for _, page := range []string{"retention", "access"} {
		r.open(admin, "/console/"+page)
		if admin.text("main h1") != "Not found" {
			admin.screenshot(page)
		}
	}

	// A read-only user sees the repository and no control that writes.
	reader := newBrowser(t)
	r.signIn(reader, "dev/reader")
	r.open(reader, "/console/repositories/dev/web")
	for _, sel := range []string{"#create-link", "#delete-selected", "input[name=digest]", "#confirm", "input[name=action]", "button.danger"} {
		if n := reader.count(sel); n != 0 {
			t.Errorf("the read-only user's repository page has %d %s", n, sel)
		}
	}
	r.open(reader, imagePage)
	if n := reader.count("#delete-image, #pin, #unpin"); n != 0 {
		t.Errorf("the read-only user's image page has a delete or pin button")
	}
	r.open(reader, "/console/repositories")
	if n := reader.count("#create-link"); n != 0 {
		t.Errorf("the read-only user's repositories page offers to create one")
	}
	// ...and a forged delete from its own, same-origin page is refused
	// by the same decision the API makes.
	status := await[int](reader, "forge a delete", `fetch("/console/repositories/dev/web", {method: "POST",
		body: new URLSearchParams({action: "delete", confirm: "dev/web"})}).then(r => r.status)`)
	if status != http.StatusForbidden {
		t.Errorf("a read-only user's forged delete: %d, want 403", status)
	}
	status = await[int](reader, "forge an image delete", `fetch("`+imagePage+`", {method: "POST",
		body: new URLSearchParams({action: "delete"})}).then(r => r.status)`)
	if status != http.StatusForbidden {
		t.Errorf("a read-only user's forged image delete: %d, want 403", status)
	}

	// A cross-site POST with the administrator's session is refused
	// before it does anything.
	res := send(t, "POST", r.base+"/console/repositories/dev/web", strings.NewReader("action=delete&confirm=dev%2Fweb"), map[string]string{
		"Cookie": "berth_console=" + c.Value, "Content-Type": "application/x-www-form-urlencoded",
		"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site",
	})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site POST: %d, want 403", res.StatusCode)
	}
	if _, err := r.local.Stores.Meta.GetRepository(context.Background(), "dev/web"); err != nil {
		t.Fatalf("dev/web after the refused writes: %v", err)
	}

	// Sign out: the console sends the browser to sign in again.
	admin.run("sign out",
		chromedp.Click(chromedp.CSS(`form[action="/console/sign-out"] button`)),
		chromedp.WaitVisible(chromedp.CSS("#login")),
		chromedp.Navigate(r.base+"/console/repositories"),
		chromedp.WaitVisible(chromedp.CSS("#login")))
}
