package clients

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/config"
)

// startPullThrough starts two registries: "Docker Hub" — a Berth whose
// tenancy is library, as Docker Hub's official images are, logging in
// as library/admin — and the Berth under test (auth on, AWS limits,
// upstreams on the loopback allowed, as this test says) with cache rule
// dev/hub → that upstream, library/ mapped, with the upstream's
// credentials. It pushes a runnable busybox image to the upstream as
// library/busybox:1 and returns the cache, the image's digest and what
// it prints.
func startPullThrough(t *testing.T, s *shell) (cache *authRegistry, digest, stamp string) {
	t.Helper()
	hubReg, hubLocal := serve(t, config.Config{Auth: true, Backend: "embedded", Data: t.TempDir(), Limits: false,
		PresignTTL: 15 * time.Minute, Service: "hub", TokenTTL: 15 * time.Minute, Tenancy: "library"})
	s.Run("crane", "auth", "login", hubReg.Host, "-u", "library/admin", "-p", hubLocal.AdminToken)
	digest, stamp = craneImage(t, s, hubReg.Ref("library/busybox", ":1"))

	reg, l := serve(t, config.Config{Auth: true, Backend: "embedded", Data: t.TempDir(), Limits: true,
		PresignTTL: 15 * time.Minute, Service: "berth", TokenTTL: 15 * time.Minute, Tenancy: tenancy, CacheInsecure: true})
	reg.Authorization = basicAuth(tenancy+"/admin", l.AdminToken)
	cache = &authRegistry{registry: reg, local: l, Admin: l.AdminToken}
	body, _ := json.Marshal(map[string]any{"prefix": "dev/hub", "upstream": "http://" + hubReg.Host, "library": true,
		"credentials": map[string]string{"username": "library/admin", "password": hubLocal.AdminToken}})
	req, err := http.NewRequest("POST", "http://"+cache.Host+"/api/tenancies/dev/cache-rules", bytes.NewReader(body))
	must(t, err)
	req.Header.Set("Authorization", cache.Authorization)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	must(t, err)
	res.Body.Close()
	if res.StatusCode != http.StatusCreated {
		t.Fatalf("creating the cache rule: %d", res.StatusCode)
	}
	return cache, digest, stamp
}

// TestDockerPullsThroughTheCache: `docker pull <host>/dev/hub/library/
// busybox:1` (docs/pull-through.md) fetches the image from the upstream
// through a cold cache, runs it, and pulls it again from the warm cache.
func TestDockerPullsThroughTheCache(t *testing.T) {
	need(t, "docker", "crane", "busybox")
	t.Parallel()
	s := newAuthShell(t)
	cache, digest, stamp := startPullThrough(t, s)
	dockerLogin(s, cache.Host, "dev/admin", cache.Admin)
	ref := cache.Ref("dev/hub/library/busybox", ":1")
	for _, when := range []string{"cold", "warm"} {
		out := s.Run("docker", "pull", ref)
		if !strings.Contains(out, digest) {
			t.Errorf("%s docker pull does not name %s:\n%s", when, digest, out)
		}
		if got := strings.ReplaceAll(s.Run("docker", "run", "--rm", ref), "\r", ""); got != stamp {
			t.Errorf("%s: the pulled image printed %q, want %q", when, got, stamp)
		}
		removeLocal(s, ref)
		cache.local.Cache.Fills.Wait()
	}
	if code, _ := cache.Status(t, "GET", "/v2/dev/hub/library/busybox/manifests/1", cache.Authorization); code != http.StatusOK {
		t.Errorf("the cached manifest: %d", code)
	}
}

// TestContainerdMirrorsDockerHubThroughTheCache does what a Kubernetes
// node configured with docs/pull-through.md's hosts.toml does: containerd
// pulls docker.io/library/busybox:1 from the mirror — Berth's dev/hub
// cache, path overridden — with the node's credentials, and runs it.
// Docker Hub itself is not reachable here, so the image can only have
// come through the mirror.
func TestContainerdMirrorsDockerHubThroughTheCache(t *testing.T) {
	need(t, "ctr", "crane", "busybox")
	t.Parallel()
	s := newAuthShell(t)
	cache, digest, stamp := startPullThrough(t, s)
	hosts := s.Path("certs.d")
	must(t, os.MkdirAll(hosts+"/docker.io", 0o755))
	must(t, os.WriteFile(hosts+"/docker.io/hosts.toml", fmt.Appendf(nil, `server = "https://registry-1.docker.io"

[host."http://%s/v2/dev/hub"]
  capabilities = ["pull", "resolve"]
  override_path = true
`, cache.Host), 0o644))
	const ref = "docker.io/library/busybox:1"
	ctr := func(args ...string) string {
		t.Helper()
		return s.Run("ctr", append([]string{"--namespace", ctrNamespace}, args...)...)
	}
	s.Cleanup(func(s *shell) { s.Try("ctr", "--namespace", ctrNamespace, "images", "rm", "--sync", ref) })
	out := ctr("images", "pull", "--hosts-dir", hosts, "--user", "dev/admin:"+cache.Admin, ref)
	if !strings.Contains(out, digest) {
		t.Errorf("ctr images pull output does not name %s:\n%s", digest, out)
	}
	if got := strings.ReplaceAll(ctr("run", "--rm", ref, uniq("berth")), "\r", ""); got != stamp {
		t.Errorf("the pulled image printed %q, want %q", got, stamp)
	}
	if code, _ := cache.Status(t, "GET", "/v2/dev/hub/library/busybox/manifests/1", cache.Authorization); code != http.StatusOK {
		t.Errorf("the image is not in the cache after containerd's pull: %d", code)
	}
	cache.local.Cache.Fills.Wait()
}
