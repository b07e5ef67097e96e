package console

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/retention"
)

// In a browser: make a retention override and see its preview before
// saving it; after a run deletes what it selected, restore an image
// from the recycle bin; create an auth token and see it once. The
// registry runs on the test clock (BERTH_TEST_CLOCK=1), which the test
// moves as the hours and days pass.
func TestRetentionAndAccessInABrowser(t *testing.T) {
	chromium(t)
	r := startWith(t, func(c *config.Config) { c.TestClock = true })
	old := r.push("dev/app:v1", "dev/admin")
	r.push("dev/app:v2", "dev/admin")
	r.push("dev/web:v1", "dev/admin")
	advance(t, r, 40*24*time.Hour)

	b := newBrowser(t)
	r.signIn(b, "dev/admin")
	r.open(b, "/console/retention")
	b.screenshot("retention")
	b.run("a preview with days out of range says so at the field",
		chromedp.Click(chromedp.CSS("#new-override")),
		chromedp.WaitVisible(chromedp.CSS("#policy-name")),
		chromedp.SetValue(chromedp.CSS("#policy-name"), "stale"),
		chromedp.SetValue(chromedp.CSS("#policy-notpulled"), "4000"),
		chromedp.Click(chromedp.CSS("#policy-preview")),
		chromedp.WaitVisible(chromedp.CSS(`#policy-notpulled[aria-invalid="true"] ~ .field-error`)))
	b.run("make an override for dev/app and preview it",
		chromedp.SetValue(chromedp.CSS("#policy-notpulled"), "30"),
		chromedp.SetValue(chromedp.CSS("#policy-share"), "100"),
		chromedp.Click(chromedp.CSS(`input[name=repositories][value="dev/app"]`)),
		chromedp.Click(chromedp.CSS("#policy-preview")),
		chromedp.WaitVisible(chromedp.CSS("#preview-summary")))
	if got := b.text("#preview-summary"); !strings.Contains(got, "This change deletes 2 images now") {
		t.Errorf("preview %q, want it to say the change deletes dev/app's 2 images", got)
	}
	if _, err := r.local.Stores.Meta.GetRetentionPolicy(context.Background(), "dev", "stale"); err == nil {
		t.Fatal("the preview saved the policy")
	}
	b.screenshot("retention-preview")
	b.run("save the previewed override",
		chromedp.Click(chromedp.CSS("#policy-save")),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-policy="stale"]`)))
	if as, err := r.local.Stores.Meta.GetAssignment(context.Background(), "dev", "dev/app"); err != nil || as.Policy != "stale" {
		t.Fatalf("dev/app's assignment %+v, %v; want stale", as, err)
	}

	// Past the cooling period, a run deletes both dev/app images into
	// the recycle bin (dev/web stays under the global policy).
	advance(t, r, 7*time.Hour)
	run, err := r.local.Retention.StartRun(context.Background(), retention.RunRequest{Tenancy: "dev", Trigger: "test"})
	if err != nil {
		t.Fatal(err)
	}
	r.signIn(b, "dev/admin") // the session ended with the hours passed
	r.open(b, "/console/retention")
	if n := b.count("#bin-table tbody tr"); n != 2 {
		t.Fatalf("recycle bin rows: %d, want dev/app's 2 images", n)
	}
	b.screenshot("retention-bin")
	d, err := old.Digest()
	if err != nil {
		t.Fatal(err)
	}
	b.run("restore dev/app:v1 from the bin",
		chromedp.Click(chromedp.CSS(`#bin-table tr[data-digest="`+d.String()+`"] button`)),
		chromedp.WaitVisible(chromedp.CSS(".banner.ok")))
	if got := b.text(".banner.ok"); !strings.Contains(got, "Restored 1 image") {
		t.Errorf("after restoring: %q", got)
	}
	if _, err := r.local.Stores.Meta.GetManifest(context.Background(), "dev/app", digest.Digest(d.String())); err != nil {
		t.Errorf("dev/app@%s after the restore: %v", d, err)
	}
	if n := b.count("#bin-table tbody tr"); n != 1 {
		t.Errorf("recycle bin rows after the restore: %d, want 1", n)
	}
	r.open(b, "/console/retention/runs/"+run.ID)
	if n := b.count(`#decision-table tbody tr`); n != 2 {
		t.Errorf("the run's decisions: %d rows, want 2", n)
	}
	b.screenshot("retention-run")

	// Access: a token is shown once, with the docker login line.
	r.open(b, "/console/access")
	b.run("create a token",
		chromedp.SetValue(chromedp.CSS("#token-desc"), "laptop"),
		chromedp.Click(chromedp.CSS("#token-create")),
		chromedp.WaitVisible(chromedp.CSS("#token-created")))
	if got := b.text("#token-created"); !strings.Contains(got, "docker login "+r.host+" -u dev/admin") || !strings.Contains(got, "bt_") {
		t.Errorf("the new token's panel %q, want the token and its docker login line", got)
	}
	b.screenshot("access-token")
	r.open(b, "/console/access?group=readers&verb=read&repository=web")
	if got := b.text("#check-answer"); !strings.HasPrefix(got, "Yes:") {
		t.Errorf("can readers read dev/web: %q", got)
	}
}

// advance moves the registry's test clock.
func advance(t *testing.T, r *registry, d time.Duration) {
	t.Helper()
	if _, err := r.local.Clock.Advance(d); err != nil {
		t.Fatal(err)
	}
}
