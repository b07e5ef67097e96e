package console

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// chromiumInstall is what to run where no Chromium is found.
const chromiumInstall = "apt-get install -y --no-install-recommends chromium-headless-shell (Debian), or set BERTH_CHROMIUM to a Chrome or Chromium binary"

// chromium returns the headless browser to drive: BERTH_CHROMIUM, else
// the first of Debian's chromium-headless-shell, chromium, or Google
// Chrome on the PATH. Without one the test skips saying how to install
// it, but under CI (CI=true), which installs it (.ci/run), it fails.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("BERTH_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium-headless-shell", "chromium", "chromium-browser", "google-chrome", "headless_shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("no headless Chromium on the PATH, and CI installs one (.ci/run): %s", chromiumInstall)
	}
	t.Skipf("SKIP: the console's browser tests need headless Chromium: %s", chromiumInstall)
	return ""
}

// browserSession is one browser with its own cookie jar (one incognito
// context), driven by chromedp.
type browserSession struct {
	t   *testing.T
	ctx context.Context
	mu  sync.Mutex
	// problems are what the pages told the console that a user would
	// not want: script exceptions and Content-Security-Policy refusals.
	problems []string
}

// newBrowser starts a headless Chromium for the test, 1280 px wide, and
// closes it when the test ends. Each call is a separate browser: its
// own cookies, so two users can be signed in at once.
func newBrowser(t *testing.T) *browserSession {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromium(t)),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-dev-shm-usage", true),
	)
	if os.Geteuid() == 0 {
		// Chromium refuses to run as root with its sandbox (CI runs as
		// root in a throwaway machine).
		opts = append(opts, chromedp.NoSandbox)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start Chromium: %v", err)
	}
	// Clipboard access for the copy buttons, as a user grants it.
	for _, perm := range []string{"clipboard-read", "clipboard-write"} {
		if _, err := chromedp.CallBrowser(ctx, browser.SetPermission, browser.SetPermissionParams{
			Permission: &browser.PermissionDescriptor{Name: perm}, Setting: browser.PermissionSettingGranted,
		}); err != nil {
			t.Fatalf("grant %s: %v", perm, err)
		}
	}
	b := &browserSession{t: t, ctx: ctx}
	go b.watchConsole()
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, p := range b.problems {
			t.Errorf("browser console: %s", p)
		}
	})
	return b
}

// watchConsole records the pages' script exceptions and CSP refusals
// until the browser closes.
func (b *browserSession) watchConsole() {
	for m, err := range chromedp.Console(b.ctx) {
		if err != nil {
			return
		}
		if m.Type == chromedp.ConsoleException || strings.Contains(m.Text, "Content Security Policy") {
			b.mu.Lock()
			b.problems = append(b.problems, fmt.Sprintf("%s: %s (%s)", m.Type, m.Text, m.URL))
			b.mu.Unlock()
		}
	}
}

// run runs steps with a 30 s budget, failing the test with what was
// being done and the page it was on.
func (b *browserSession) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v (%s)", what, err, b.where())
	}
}

// where says which page the browser is on and what it shows.
func (b *browserSession) where() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	url, _ := chromedp.Run(ctx, chromedp.Location())
	body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
	return fmt.Sprintf("page %s: %.600s", url, strings.Join(strings.Fields(body), " "))
}

// get runs one action that returns a value, with a 30 s budget.
func get[T any](b *browserSession, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v (%s)", what, err, b.where())
	}
	return v
}

// text returns the text of the first element sel matches.
func (b *browserSession) text(sel string) string {
	b.t.Helper()
	return strings.TrimSpace(get(b, "read "+sel, chromedp.Text(chromedp.CSS(sel))))
}

// count returns how many elements sel matches on the page.
func (b *browserSession) count(sel string) int {
	b.t.Helper()
	return get(b, "count "+sel, chromedp.Evaluate[int](fmt.Sprintf("document.querySelectorAll(%q).length", sel)))
}

// await evaluates a script whose value is a promise, and returns what
// it resolves to.
func await[T any](b *browserSession, what, script string) T {
	b.t.Helper()
	return get(b, what, chromedp.Evaluate[T](script, chromedp.EvalAwaitPromise))
}

// artifacts is where screenshots go: $BERTH_ARTIFACTS/console, else
// artifacts/console at the repository's root (git-ignored; CI keeps it).
func artifacts(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("BERTH_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "artifacts")
	}
	dir = filepath.Join(dir, "console")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts directory: %v", err)
	}
	return dir
}

// theme makes the page follow a system colour scheme, light or dark.
func theme(scheme string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
		})
		return err
	})
}

// screenshot saves the whole page as <name>.png under artifacts, in the
// light theme and, as <name>-dark.png, the dark one.
func (b *browserSession) screenshot(name string) {
	b.t.Helper()
	b.checkLabels(name)
	dir := artifacts(b.t)
	for _, scheme := range []string{"light", "dark"} {
		b.run("switch to the "+scheme+" theme", theme(scheme), chromedp.Sleep(150*time.Millisecond))
		png := get(b, "screenshot "+name, chromedp.FullScreenshot(100))
		file := name + ".png"
		if scheme == "dark" {
			file = name + "-dark.png"
		}
		if err := os.WriteFile(filepath.Join(dir, file), png, 0o644); err != nil {
			b.t.Fatalf("save screenshot: %v", err)
		}
	}
	b.run("back to the light theme", theme("light"))
}

// unlabelled lists the form controls of a page that have no accessible
// name: no <label for>, no wrapping <label>, no aria-label(ledby).
const unlabelled = `Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea")).filter(el =>
	!(el.labels && el.labels.length) && !el.getAttribute("aria-label") && !el.getAttribute("aria-labelledby")
).map(el => el.outerHTML.slice(0, 120))`

// checkLabels fails the test for every control of the page without a
// label (what a screen reader would announce as nothing).
func (b *browserSession) checkLabels(page string) {
	b.t.Helper()
	for _, el := range get(b, "find unlabelled controls", chromedp.Evaluate[[]string](unlabelled)) {
		b.t.Errorf("%s: a control without a label: %s", page, el)
	}
}
