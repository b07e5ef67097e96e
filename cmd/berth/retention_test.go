package main

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
	"github.com/berth-registry/berth/shared/retention"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/local"
)

// retentionTerm is a terminal logged in to a server that serves the
// retention API alone, as dev/admin.
func retentionTerm(t *testing.T) *term {
	meta, err := local.OpenMetadata(filepath.Join(t.TempDir(), "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { meta.Close() })
	objs, err := local.OpenObjects(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, err := range []error{
		meta.CreateTenancy(ctx, store.Tenancy{Name: "dev"}),
		meta.PutUser(ctx, store.User{Tenancy: "dev", Name: "admin", Groups: []string{auth.AdminGroup}}),
		meta.EnsureRepository(ctx, "dev/app"),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	svc := retention.New(retention.Stores{Meta: meta, Ret: meta, Blobs: objs, Tenancies: meta}, retention.DefaultConfig(), slog.New(slog.DiscardHandler))
	api := retention.NewAPI(svc, meta, retention.APIConfig{Tenancy: "dev"})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, _, ok := r.BasicAuth(); !ok || u != "dev/admin" {
			http.Error(w, "no credentials", http.StatusUnauthorized)
			return
		}
		p := auth.Principal{Tenancy: "dev", User: "admin"}
		api.ServeHTTP(w, r.WithContext(authz.WithDecision(r.Context(), authz.Decision{Allow: true, Principal: p})))
	}))
	t.Cleanup(srv.Close)
	tm := newTerm(t)
	tm.meta = meta
	b, _ := json.Marshal(settings{URL: srv.URL, Username: "dev/admin", Token: "secret"})
	if err := os.MkdirAll(filepath.Dir(tm.config), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(tm.config, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return tm
}

// retention runs one `berth retention` verb.
func (tm *term) retention(args ...string) (string, error) {
	tm.out.Reset()
	tm.err.Reset()
	for _, v := range retentionGroup.verbs {
		if v.name == args[0] {
			err := v.run(tm.c, context.Background(), args[1:])
			return tm.out.String(), err
		}
	}
	tm.t.Fatalf("no verb %q", args[0])
	return "", nil
}

func TestRetentionCommands(t *testing.T) {
	tm := retentionTerm(t)
	steps := []struct {
		args    []string
		want    string // in stdout
		wantErr string // in the error
	}{
		{[]string{"set", "global", "--not-pulled-days", "90", "--exempt-tags", "latest, release-*"}, "", "not saved: the change removes a protection"},
		{[]string{"set", "global", "--not-pulled-days", "90", "--exempt-tags", "latest, release-*", "--yes"}, "Saved retention policy global", ""},
		{[]string{"set", "weekly", "--untagged-days", "7", "--yes"}, "Saved retention policy weekly", ""},
		{[]string{"assign", "dev/app", "weekly"}, "dev/app is now under retention policy weekly", ""},
		{[]string{"list"}, "weekly", ""},
		{[]string{"delete", "weekly"}, "", "still governs dev/app"},
		{[]string{"run", "--dry-run"}, "Retention dry run", ""},
		{[]string{"runs"}, "api", ""},
		{[]string{"pin", "dev/app@sha256:" + strings.Repeat("a", 64), "--expires", time.Now().Add(time.Hour).UTC().Format(time.RFC3339)}, "Pinned", ""},
		{[]string{"restore", "dev/app@sha256:" + strings.Repeat("b", 64)}, "", "not in the recycle bin"},
		{[]string{"unassign", "dev/app"}, "global retention policy", ""},
		{[]string{"gc"}, "Removed 0 links and 0 blobs", ""},
	}
	for _, s := range steps {
		out, err := tm.retention(s.args...)
		switch {
		case s.wantErr == "" && err != nil:
			t.Fatalf("berth retention %s: %v", strings.Join(s.args, " "), err)
		case s.wantErr != "" && (err == nil || !strings.Contains(err.Error(), s.wantErr)):
			t.Fatalf("berth retention %s: error %v, want one saying %q", strings.Join(s.args, " "), err, s.wantErr)
		case !strings.Contains(out, s.want):
			t.Fatalf("berth retention %s printed %q, want %q in it", strings.Join(s.args, " "), out, s.want)
		}
	}
	out, _ := tm.retention("list")
	if !strings.Contains(out, "latest,release-*") {
		t.Errorf("list does not show the global policy's exempt tags:\n%s", out)
	}
}

// TestRetentionSetChangesOnlyWhatItNames is the scenario: set
// three options, then one, and list; then a change that removes a
// protection asks first, with what a run would then delete.
func TestRetentionSetChangesOnlyWhatItNames(t *testing.T) {
	tm := retentionTerm(t)
	meta := tm.meta
	ctx := context.Background()
	old := time.Now().UTC().AddDate(0, 0, -40)
	for _, tag := range []string{"keep-1", "v1-prod", "v2"} {
		body := []byte(`{"schemaVersion":2,"tag":"` + tag + `"}`)
		m := store.Manifest{Repo: "dev/app", Digest: digest.FromBytes(body), MediaType: "application/vnd.oci.image.manifest.v1+json", Size: int64(len(body)), Body: body, Created: old}
		if err := meta.PutManifest(ctx, m); err != nil {
			t.Fatal(err)
		}
		if err := meta.PutTag(ctx, store.Tag{Repo: "dev/app", Name: tag, Digest: m.Digest, MediaType: m.MediaType, Size: m.Size, Updated: old}); err != nil {
			t.Fatal(err)
		}
	}

	out, err := tm.run("y\n", "retention", "set", "global", "--not-pulled-days", "10", "--exempt-tags", "keep-*,*-prod", "--max-share", "1")
	if err != nil || !strings.Contains(out, "Saved retention policy global (version 1)") || !strings.Contains(out, "exempt tags      keep-*, *-prod") {
		t.Fatalf("set three: %v\n%s\n%s", err, out, tm.err.String())
	}
	out, err = tm.run("", "retention", "set", "global", "--not-pulled-days", "60")
	if err != nil || !strings.Contains(out, "not pulled for: 10 days → 60 days\n") || strings.Contains(out, "removes a protection") {
		t.Fatalf("set one: %v\n%s", err, out)
	}
	out, _ = tm.run("", "retention", "list")
	if !strings.Contains(out, "60 days") || !strings.Contains(out, "keep-*,*-prod") || !strings.Contains(out, "no limit") || strings.Contains(out, "0001") {
		t.Errorf("list after setting one option lost the others:\n%s", out)
	}
	out, _ = tm.run("", "retention", "list", "--json")
	if !strings.Contains(out, `"maxDeleteShare": 1`) || !strings.Contains(out, `"keep-*"`) {
		t.Errorf("list --json lost maxDeleteShare or the exempt tags:\n%s", out)
	}

	// Clearing the exempt tags and shortening the threshold to 30 days
	// would expose all three images (pushed 40 days ago, never pulled).
	args := []string{"retention", "set", "global", "--exempt-tags", "", "--not-pulled-days", "30"}
	if _, err := tm.run("", args...); !errors.Is(err, errNotSaved) {
		t.Fatalf("a loosening change without an answer: %v, want errNotSaved", err)
	}
	if warn := tm.err.String(); !strings.Contains(warn, "a run would delete 3 images (0 under the policy as it stands), 3 more than now") ||
		!strings.Contains(warn, "no longer exempt: keep-*, *-prod") || !strings.Contains(warn, "Save the change? [y/N]") {
		t.Errorf("the question does not say what the change would delete:\n%s", warn)
	}
	p, _ := meta.GetRetentionPolicy(ctx, "dev", "global")
	if len(p.ExemptTags) != 2 || p.NotPulledDays != 60 {
		t.Fatalf("an unconfirmed change was saved: %+v", p)
	}
	if out, err := tm.run("y\n", args...); err != nil || !strings.Contains(out, "exempt tags      none") {
		t.Fatalf("answered y: %v\n%s", err, out)
	}
	if _, err := tm.run("", "retention", "set", "global", "--max-count", "-1", "--yes"); err != nil {
		t.Errorf("--yes must not ask: %v", err)
	}
	if _, err := tm.run("", "retention", "set", "global"); err == nil || !strings.Contains(err.Error(), "nothing to change") {
		t.Errorf("set without a setting: %v", err)
	}
}
