package largepush

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDockerPushThroughProxyThenPullFromGateway pushes, with an
// unchanged docker, an image whose layers (about 50 MB and 300 MB of
// incompressible data) no gateway request can carry, through the proxy;
// then pulls it straight from the gateway and runs it, checking the
// files' sha256 inside the container.
func TestDockerPushThroughProxyThenPullFromGateway(t *testing.T) {
	need(t)
	for _, backend := range backends {
		t.Run(backend, func(t *testing.T) {
			e := start(t, backend)
			px, parts := startProxy(t, e)
			dir := t.TempDir()
			denv := []string{"DOCKER_CONFIG=" + filepath.Join(dir, ".docker"), "DOCKER_BUILDKIT=0"}

			// Layer 1: busybox and 50 MB (docker import); layer 2: 300 MB
			// (COPY with the legacy builder).
			base, err := os.Create(filepath.Join(dir, "base.tar"))
			if err != nil {
				t.Fatal(err)
			}
			sums, err := writeTar(base, append(busyboxRoot(t), tarEntry{Name: "big50.bin", Size: 50 * mb, Seed: 50}))
			base.Close()
			if err != nil {
				t.Fatal(err)
			}
			ctxDir := filepath.Join(dir, "context")
			if err := os.MkdirAll(ctxDir, 0o755); err != nil {
				t.Fatal(err)
			}
			f, err := os.Create(filepath.Join(ctxDir, "big300.bin"))
			if err != nil {
				t.Fatal(err)
			}
			hs := sha256.New()
			err = filler(io.MultiWriter(f, hs), 300*mb, 300)
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			sums["big300.bin"] = hex.EncodeToString(hs.Sum(nil))

			baseRef := px + "/dev/largebase:" + backend
			ref := px + "/dev/large:" + backend
			run(t, denv, "docker", "import", "--change", `CMD ["/bin/sh"]`, filepath.Join(dir, "base.tar"), baseRef)
			t.Cleanup(func() { _ = runQuiet(denv, "docker", "rmi", "-f", baseRef) })
			dockerfile := "FROM " + baseRef + "\nCOPY big300.bin /big300.bin\n"
			if err := os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte(dockerfile), 0o644); err != nil {
				t.Fatal(err)
			}
			run(t, denv, "docker", "build", "--network", "none", "-t", ref, ctxDir)
			t.Cleanup(func() { _ = runQuiet(denv, "docker", "rmi", "-f", ref) })

			out := run(t, denv, "docker", "push", ref)
			m := regexp.MustCompile(`digest: (sha256:[0-9a-f]{64}) size: \d+`).FindStringSubmatch(out)
			if m == nil {
				t.Fatalf("no digest in docker push output:\n%s", out)
			}
			if n := parts.parts(); n < 20 {
				t.Errorf("%d parts went straight to storage, want at least 20 for 350 MB in 16 MiB parts", n)
			}
			if n := e.count("PATCH /v2/"); n != 0 {
				t.Errorf("%d PATCHes reached the gateway, want none (the proxy sends parts)", n)
			}

			// Pull straight from the gateway, as any docker user would.
			direct := e.host + "/dev/large:" + backend
			runIn(t, denv, e.token, "docker", "login", e.host, "-u", "dev/admin", "--password-stdin")
			run(t, denv, "docker", "rmi", "-f", ref, baseRef)
			pull := run(t, denv, "docker", "pull", direct)
			t.Cleanup(func() { _ = runQuiet(denv, "docker", "rmi", "-f", direct) })
			if !strings.Contains(pull, "Digest: "+m[1]) {
				t.Errorf("docker pull from the gateway lacks Digest: %s:\n%s", m[1], pull)
			}
			got := run(t, denv, "docker", "run", "--rm", "--network", "none", direct, "sha256sum", "/big50.bin", "/big300.bin")
			for _, name := range []string{"big50.bin", "big300.bin"} {
				if !strings.Contains(got, sums[name]+"  /"+name) {
					t.Errorf("sha256sum in the container:\n%s\nwant %s for /%s", got, sums[name], name)
				}
			}

			// Pulls through the proxy work too (blob redirects pass through).
			run(t, denv, "docker", "rmi", "-f", direct)
			pull = run(t, denv, "docker", "pull", ref)
			if !strings.Contains(pull, "Digest: "+m[1]) || strings.Count(pull, "Pull complete") != 2 {
				t.Errorf("docker pull through the proxy: want both layers and Digest: %s:\n%s", m[1], pull)
			}
		})
	}
}
