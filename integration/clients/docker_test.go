package clients

import (
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// appOutput is what the built image prints when run.
const appOutput = "one\ntwo\nhello from berth\n"

// appLayers is how many layers the built image has: the imported base,
// two RUN steps and a COPY.
const appLayers = 4

// pushBase makes the base image with `docker import` of a busybox rootfs,
// pushes it as ref and returns the pushed manifest digest. The rootfs
// holds a file unique to the run, so no layer of it is already in the
// daemon and pulls must fetch every layer.
func pushBase(t *testing.T, s *shell, ref string) string {
	t.Helper()
	id := file{Name: "etc/berth-run", Body: uniq(t.Name()) + "\n"}
	s.Run("docker", "import", "--change", `CMD ["/bin/sh"]`, rootfs(t, s, "rootfs.tar", id), ref)
	removeOnCleanup(s, ref)
	return pushDigest(t, s.Run("docker", "push", ref))
}

// removeOnCleanup removes the image ref names now from the daemon when
// the test ends, by ID, with every name it has by then.
func removeOnCleanup(s *shell, ref string) {
	s.t.Helper()
	id := strings.TrimSpace(s.Run("docker", "image", "inspect", "--format", "{{.Id}}", ref))
	s.Cleanup(func(s *shell) { s.Try("docker", "rmi", "-f", id) })
}

// pushApp builds an image FROM base with docker's legacy builder (one
// layer per RUN and COPY), pushes it as ref and returns its digest.
func pushApp(t *testing.T, s *shell, base, ref string) string {
	t.Helper()
	ctx := s.Path("context")
	must(t, os.MkdirAll(ctx, 0o755))
	dockerfile := fmt.Sprintf(`FROM %s
RUN echo one > /one
RUN echo two > /two && mkdir -p /data && uname -m > /data/arch
COPY msg.txt /msg.txt
CMD ["/bin/sh", "-c", "cat /one /two /msg.txt"]
`, base)
	must(t, os.WriteFile(ctx+"/Dockerfile", []byte(dockerfile), 0o644))
	must(t, os.WriteFile(ctx+"/msg.txt", []byte("hello from berth\n"), 0o644))
	s.Run("docker", "build", "--network", "none", "-t", ref, ctx)
	removeOnCleanup(s, ref)
	return pushDigest(t, s.Run("docker", "push", ref))
}

// repoDigests returns what `docker image inspect` lists as ref's
// RepoDigests.
func repoDigests(s *shell, ref string) []string {
	s.t.Helper()
	return strings.Fields(s.Run("docker", "image", "inspect", "--format", `{{range .RepoDigests}}{{.}} {{end}}`, ref))
}

// removeLocal removes images from the daemon and checks they are gone,
// so that the next pull must fetch them.
func removeLocal(s *shell, refs ...string) {
	s.t.Helper()
	s.Run("docker", append([]string{"rmi"}, refs...)...)
	for _, ref := range refs {
		if _, _, err := s.Try("docker", "image", "inspect", ref); err == nil {
			s.t.Fatalf("%s is still in the daemon after docker rmi", ref)
		}
	}
}

func TestDocker(t *testing.T) {
	need(t, "docker", "busybox")
	t.Parallel()
	testDocker(t, startAuthRegistry(t, true))
}

// testDocker pushes, pulls and runs images with docker through reg, as
// dev/admin.
func testDocker(t *testing.T, reg *authRegistry) {
	sh := newShell(t)
	dockerLogin(sh, reg.Host, "dev/admin", reg.Admin)
	base, app := reg.Ref("dev/base", ":1"), reg.Ref("dev/ns/team/app", ":v1")
	var baseDigest, appDigest string
	var appManifest manifest

	steps := []struct {
		name string
		run  func(t *testing.T, s *shell)
	}{
		{"docker import image pushes with its one layer", func(t *testing.T, s *shell) {
			baseDigest = pushBase(t, s, base)
			m := reg.AssertImage(t, "dev/base", "1", baseDigest)
			if len(m.Layers) != 1 || m.MediaType != "application/vnd.docker.distribution.manifest.v2+json" {
				t.Fatalf("base manifest: %s with %d layers, want a docker v2 manifest with 1", m.MediaType, len(m.Layers))
			}
			if want := reg.Ref("dev/base", "@"+baseDigest); !slices.Contains(repoDigests(s, base), want) {
				t.Errorf("docker lists RepoDigests %v, want %s among them", repoDigests(s, base), want)
			}
		}},
		{"legacy-builder image pushes to a nested name, mounting the base layer", func(t *testing.T, s *shell) {
			mark := reg.Mark()
			appDigest = pushApp(t, s, base, app)
			appManifest = reg.AssertImage(t, "dev/ns/team/app", "v1", appDigest)
			if len(appManifest.Layers) != appLayers {
				t.Fatalf("built image has %d layers, want %d", len(appManifest.Layers), appLayers)
			}
			baseManifest, _ := reg.Manifest(t, "dev/base", "1")
			if appManifest.Layers[0].Digest != baseManifest.Layers[0].Digest {
				t.Errorf("first layer %s is not the base layer %s", appManifest.Layers[0].Digest, baseManifest.Layers[0].Digest)
			}
			mounted := false
			for _, q := range reg.Since(mark) {
				if q.Method == "POST" && strings.Contains(q.Query, "from=dev%2Fbase") && q.Status == 201 {
					mounted = true
				}
			}
			if !mounted {
				t.Errorf("docker did not mount the base layer from dev/base (no 201 to POST ...?mount=...&from=dev/base)")
			}
		}},
		{"removed images pull back and run", func(t *testing.T, s *shell) {
			removeLocal(s, app, base)
			out := s.Run("docker", "pull", app)
			if n := strings.Count(out, "Pull complete"); n != appLayers {
				t.Errorf("docker pull completed %d layers, want %d:\n%s", n, appLayers, out)
			}
			if !strings.Contains(out, "Digest: "+appDigest) {
				t.Errorf("docker pull output lacks Digest: %s:\n%s", appDigest, out)
			}
			if got := s.Run("docker", "run", "--rm", "--network", "none", app); got != appOutput {
				t.Errorf("docker run printed %q, want %q", got, appOutput)
			}
			if out := s.Run("docker", "pull", base); !strings.Contains(out, "Digest: "+baseDigest) {
				t.Errorf("docker pull %s output lacks Digest: %s:\n%s", base, baseDigest, out)
			}
		}},
		{"pushing again sends no layer", func(t *testing.T, s *shell) {
			mark := reg.Mark()
			out := s.Run("docker", "push", app)
			if n := strings.Count(out, "Layer already exists"); n != appLayers {
				t.Errorf("%d layers already existed, want %d:\n%s", n, appLayers, out)
			}
			if d := pushDigest(t, out); d != appDigest {
				t.Errorf("re-push digest %s, want %s", d, appDigest)
			}
			for _, q := range reg.Since(mark) {
				if strings.Contains(q.Path, "/blobs/uploads") {
					t.Errorf("re-push started an upload: %s", q)
				}
			}
		}},
		{"moving a tag repoints it", func(t *testing.T, s *shell) {
			stable := reg.Ref("dev/ns/team/app", ":stable")
			s.Run("docker", "tag", base, stable)
			first := pushDigest(t, s.Run("docker", "push", stable))
			if _, d := reg.Manifest(t, "dev/ns/team/app", "stable"); d != baseDigest || first != baseDigest {
				t.Fatalf("stable is %s (push said %s), want the base %s", d, first, baseDigest)
			}
			s.Run("docker", "tag", app, stable)
			s.Run("docker", "push", stable)
			if _, d := reg.Manifest(t, "dev/ns/team/app", "stable"); d != appDigest {
				t.Fatalf("after moving, stable is %s, want %s", d, appDigest)
			}
			if got := reg.Tags(t, "dev/ns/team/app"); !slices.Equal(got, []string{"stable", "v1"}) {
				t.Errorf("tags %v, want [stable v1]", got)
			}
		}},
		{"pull by digest runs the same image", func(t *testing.T, s *shell) {
			removeLocal(s, app, reg.Ref("dev/ns/team/app", ":stable"))
			byDigest := reg.Ref("dev/ns/team/app", "@"+appDigest)
			out := s.Run("docker", "pull", byDigest)
			if !regexp.MustCompile(`Digest: ` + appDigest).MatchString(out) {
				t.Errorf("docker pull by digest output lacks the digest:\n%s", out)
			}
			if got := s.Run("docker", "run", "--rm", "--network", "none", byDigest); got != appOutput {
				t.Errorf("docker run printed %q, want %q", got, appOutput)
			}
		}},
	}
	for _, step := range steps {
		if !t.Run(step.name, func(t *testing.T) { step.run(t, sh.In(t)) }) {
			return
		}
	}
}
