package main

import (
	"strings"
	"testing"
)

// TestCLICacheRules manages a tenancy's pull-through cache rules: the
// upstream password is read from stdin, and no command prints it, not
// even with --json.
func TestCLICacheRules(t *testing.T) {
	url, admin := registry(t)
	tm := newTerm(t)
	if err := tm.login(url, "dev/admin", admin); err != nil {
		t.Fatal(err)
	}
	const secret = "ghp_upstream-secret-token"
	if out, err := tm.run(secret+"\n", "cache-rules", "create", "dev/ghcr", "--upstream", "ghcr.io", "--username", "bot", "--password-stdin", "--refresh", "1h"); err != nil ||
		!strings.Contains(out, "dev/ghcr → https://ghcr.io") {
		t.Fatalf("create: %q, %v", out, err)
	}
	tm.must("cache-rules", "create", "dev/hub", "--upstream", "docker.io")
	list := tm.must("cache-rules", "list")
	for _, want := range []string{"dev/ghcr  ", "https://ghcr.io", "dev/hub", "https://registry-1.docker.io", "1h0m0s", "15m0s"} {
		if !strings.Contains(list, want) {
			t.Errorf("list does not show %q:\n%s", want, list)
		}
	}
	for _, args := range [][]string{{"cache-rules", "list", "--json"}, {"cache-rules", "get", "dev/ghcr", "--json"}, {"cache-rules", "get", "dev/ghcr"}} {
		if out := tm.must(args...); strings.Contains(out, secret) || !strings.Contains(out, "dev/ghcr") {
			t.Errorf("berth %s printed the upstream password, or not the rule:\n%s", strings.Join(args, " "), out)
		}
	}
	if out := tm.must("cache-rules", "get", "dev/ghcr"); !strings.Contains(out, "credentials       yes") {
		t.Errorf("get does not say the rule has credentials:\n%s", out)
	}
	if out := tm.must("cache-rules", "update", "dev/ghcr", "--remove-credentials", "--library", "true"); !strings.Contains(out, "credentials       no") ||
		!strings.Contains(out, "library/ mapping  yes") {
		t.Errorf("update:\n%s", out)
	}
	tm.fails("needs --upstream", "cache-rules", "create", "dev/quay")
	tm.fails("both --username and --password-stdin", "cache-rules", "create", "dev/quay", "--upstream", "quay.io", "--username", "bot")
	tm.fails("must be an https URL", "cache-rules", "create", "dev/quay", "--upstream", "http://quay.io")
	tm.fails("must start with the tenancy", "cache-rules", "create", "other/quay", "--upstream", "quay.io")
	tm.must("cache-rules", "delete", "dev/ghcr")
	tm.fails("no cache rule for dev/ghcr", "cache-rules", "get", "dev/ghcr")
}
