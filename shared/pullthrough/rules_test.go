package pullthrough

import (
	"bytes"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/local"
)

func TestNormalizeUpstream(t *testing.T) {
	for _, tc := range []struct {
		in       string
		insecure bool
		want     string
		hub      bool
		err      string
	}{
		{in: "docker.io", want: DockerHub, hub: true},
		{in: "https://index.docker.io/", want: DockerHub, hub: true},
		{in: "registry-1.docker.io", want: DockerHub, hub: true},
		{in: "ghcr.io", want: "https://ghcr.io"},
		{in: "https://Quay.IO", want: "https://quay.io"},
		{in: "https://registry.example:8443", want: "https://registry.example:8443"},
		{in: "", err: "upstream is required"},
		{in: "http://registry.example", err: "must be an https URL"},
		{in: "http://127.0.0.1:5000", insecure: true, want: "http://127.0.0.1:5000"},
		{in: "https://user:pw@registry.example", err: "must not hold credentials"},
		{in: "https://registry.example/v2/", err: "no path"},
		{in: "https://registry.example?x=1", err: "no path"},
		{in: "ftp://registry.example", err: "https URL"},
		{in: "https://127.0.0.1", err: "not a public address"},
		{in: "https://169.254.169.254", err: "not a public address"},
		{in: "https://[fd00:ec2::254]", err: "not a public address"},
		{in: "https://10.0.0.8:5000", err: "not a public address"},
		{in: "https://localhost:5000", err: "not a public address"},
	} {
		got, hub, err := normalizeUpstream(tc.in, tc.insecure)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("normalizeUpstream(%q) = %q, %v; want an error saying %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || got != tc.want || hub != tc.hub {
			t.Errorf("normalizeUpstream(%q) = %q, %v, %v; want %q, %v", tc.in, got, hub, err, tc.want, tc.hub)
		}
	}
}

func TestCheckPrefix(t *testing.T) {
	rs := &Rules{}
	for _, tc := range []struct {
		prefix, err string
	}{
		{"dev/hub", ""},
		{"dev/mirrors/ghcr", ""},
		{"dev", "must start with its tenancy namespace"},
		{"other/hub", "must start with the tenancy"},
		{"dev/Hub", "prefix"},
		{"dev/a/b/c/d/e/f/g", "leaves no room"},
		{"dev/hub/", "prefix"},
	} {
		err := rs.checkPrefix("dev", tc.prefix)
		if (err == nil) != (tc.err == "") || (err != nil && !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("checkPrefix(%q) = %v, want %q", tc.prefix, err, tc.err)
		}
	}
}

// openRules returns rules over a fresh bbolt store, sealing with a key
// file of its own.
func openRules(t *testing.T) (*Rules, store.CacheRules) {
	t.Helper()
	dir := t.TempDir()
	m, err := local.OpenMetadata(filepath.Join(dir, "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	s, err := local.OpenSealer(filepath.Join(dir, "key"))
	if err != nil {
		t.Fatal(err)
	}
	return NewRules(m, s, nil, false), m
}

func code(err error) errcode.Code {
	var e *errcode.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestRulesWriteSealedCredentialsAndShowNone(t *testing.T) {
	rs, st := openRules(t)
	ctx := t.Context()
	yes := true
	v, err := rs.Create(ctx, "dev", RuleInput{Prefix: "dev/hub", Upstream: "docker.io",
		Credentials: &Credentials{Username: "bot", Password: "s3cret-token"}})
	if err != nil {
		t.Fatal(err)
	}
	if v.Upstream != DockerHub || !v.Library || v.RefreshInterval != "15m0s" || !v.Credentials || v.Version != 1 {
		t.Errorf("created %+v: want Docker Hub with library/, the default refresh and credentials", v)
	}
	rec, err := st.GetCacheRule(ctx, "dev", "dev/hub")
	if err != nil || bytes.Contains(rec.Credentials, []byte("s3cret")) || len(rec.Credentials) == 0 {
		t.Fatalf("stored credentials %q (%v): want sealed", rec.Credentials, err)
	}
	c, err := rs.credentials(ctx, rec)
	if err != nil || c.Username != "bot" || c.Password != "s3cret-token" {
		t.Fatalf("opened %v, %v", c, err)
	}
	if _, err := rs.Create(ctx, "dev", RuleInput{Prefix: "dev/hub", Upstream: "ghcr.io"}); code(err) != errcode.Conflict {
		t.Errorf("creating an existing rule: %v, want CONFLICT", err)
	}
	ghcr := "ghcr.io"
	refresh := "1h"
	v, err = rs.Update(ctx, "dev", "dev/hub", RulePatch{Upstream: &ghcr, RefreshInterval: &refresh, Library: &yes, RemoveCredentials: true})
	if err != nil || v.Upstream != "https://ghcr.io" || v.RefreshInterval != "1h0m0s" || v.Credentials || v.Version != 2 {
		t.Errorf("updated %+v (%v)", v, err)
	}
	for _, tc := range []struct {
		name string
		p    RulePatch
	}{
		{"credentials and removeCredentials", RulePatch{Credentials: &Credentials{Username: "a", Password: "b"}, RemoveCredentials: true}},
		{"credentials without a password", RulePatch{Credentials: &Credentials{Username: "a"}}},
		{"a negative refresh", RulePatch{RefreshInterval: new("-1m")}},
		{"an http upstream", RulePatch{Upstream: new("http://registry.example")}},
	} {
		if _, err := rs.Update(ctx, "dev", "dev/hub", tc.p); code(err) != errcode.Invalid {
			t.Errorf("update with %s: %v, want INVALID", tc.name, err)
		}
	}
	if _, err := rs.Update(ctx, "dev", "dev/none", RulePatch{}); code(err) != errcode.NotFound {
		t.Errorf("updating an absent rule: %v, want NOT_FOUND", err)
	}
	if err := rs.Delete(ctx, "dev", "dev/hub"); err != nil {
		t.Fatal(err)
	}
	if err := rs.Delete(ctx, "dev", "dev/hub"); code(err) != errcode.NotFound {
		t.Errorf("deleting again: %v, want NOT_FOUND", err)
	}
}

func TestRulesWithoutAKeyRefuseCredentials(t *testing.T) {
	dir := t.TempDir()
	m, err := local.OpenMetadata(filepath.Join(dir, "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	rs := NewRules(m, nil, nil, false)
	_, err = rs.Create(t.Context(), "dev", RuleInput{Prefix: "dev/hub", Upstream: "docker.io", Credentials: &Credentials{Username: "a", Password: "b"}})
	if code(err) != errcode.Invalid || !strings.Contains(err.Error(), "BERTH_CACHE_KEY_ID") {
		t.Errorf("credentials without a key: %v, want INVALID naming BERTH_CACHE_KEY_ID", err)
	}
}

func TestCoverPicksTheLongestPrefixAndMapsLibrary(t *testing.T) {
	rs, _ := openRules(t)
	ctx := t.Context()
	no := false
	for _, in := range []RuleInput{
		{Prefix: "dev/hub", Upstream: "docker.io"},
		{Prefix: "dev/hub/bitnami", Upstream: "https://registry.example", Library: &no, RefreshInterval: "1h"},
		{Prefix: "dev/ghcr", Upstream: "ghcr.io"},
	} {
		if _, err := rs.Create(ctx, "dev", in); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		repo, prefix, name string
	}{
		{"dev/hub/alpine", "dev/hub", "library/alpine"},
		{"dev/hub/library/alpine", "dev/hub", "library/alpine"},
		{"dev/hub/grafana/grafana", "dev/hub", "grafana/grafana"},
		{"dev/hub/bitnami/redis", "dev/hub/bitnami", "redis"},
		{"dev/ghcr/org/tool", "dev/ghcr", "org/tool"},
		{"dev/ghcr/tool", "dev/ghcr", "tool"},
		{"dev/hub", "", ""},
		{"dev/hubx/alpine", "", ""},
		{"other/hub/alpine", "", ""},
	} {
		tg, ok, err := rs.cover(ctx, tc.repo)
		if err != nil || ok != (tc.prefix != "") || tg.rule.Prefix != tc.prefix || tg.name != tc.name {
			t.Errorf("cover(%q) = %q → %q, %v, %v; want %q → %q", tc.repo, tg.rule.Prefix, tg.name, ok, err, tc.prefix, tc.name)
		}
	}
}

func TestCoverSeesChangesAtOnceInItsProcessAndWithinRuleTTLElsewhere(t *testing.T) {
	rs, st := openRules(t)
	ctx := t.Context()
	if _, ok, _ := rs.cover(ctx, "dev/hub/alpine"); ok {
		t.Fatal("covered before any rule")
	}
	if _, err := rs.Create(ctx, "dev", RuleInput{Prefix: "dev/hub", Upstream: "docker.io"}); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := rs.cover(ctx, "dev/hub/alpine"); !ok {
		t.Fatal("a rule created through these rules is not seen at once")
	}
	// Another process (another function instance) deletes it: seen
	// once the cached list ages past RuleTTL.
	if err := st.DeleteCacheRule(ctx, "dev", "dev/hub"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := rs.cover(ctx, "dev/hub/alpine"); !ok {
		t.Fatal("the cached list was not used")
	}
	rs.mu.Lock()
	e := rs.rules["dev"]
	e.exp = time.Now().Add(-time.Second)
	rs.rules["dev"] = e
	rs.mu.Unlock()
	if _, ok, _ := rs.cover(ctx, "dev/hub/alpine"); ok {
		t.Fatal("a deleted rule still covers after RuleTTL")
	}
}
