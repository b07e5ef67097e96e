package clients

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// file is one entry of a tarball the tests build: a regular file with
// Body, or a symlink to Link.
type file struct {
	Name, Body, Link string
	Mode             int64
}

// writeTar writes files (and their parent directories) to a tarball at
// path with fixed times, so the same files always give the same bytes.
func writeTar(t testing.TB, path string, files []file) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	epoch := time.Unix(1700000000, 0)
	dirs := map[string]bool{}
	for _, fl := range files {
		parts := strings.Split(fl.Name, "/")
		for i := 1; i < len(parts); i++ {
			d := strings.Join(parts[:i], "/") + "/"
			if !dirs[d] {
				dirs[d] = true
				must(t, tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d, Mode: 0o755, ModTime: epoch}))
			}
		}
		h := &tar.Header{Name: fl.Name, Mode: fl.Mode, ModTime: epoch}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		if fl.Link != "" {
			h.Typeflag, h.Linkname, h.Mode = tar.TypeSymlink, fl.Link, 0o777
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(fl.Body))
		}
		must(t, tw.WriteHeader(h))
		_, err := io.WriteString(tw, fl.Body)
		must(t, err)
	}
	must(t, tw.Close())
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// rootfs writes a tarball of a minimal root filesystem — static busybox
// with a few applets linked — plus extra files, and returns its path.
func rootfs(t testing.TB, s *shell, name string, extra ...file) string {
	t.Helper()
	bb, err := os.ReadFile(busybox)
	must(t, err)
	files := []file{{Name: "bin/busybox", Body: string(bb), Mode: 0o755}}
	for _, applet := range []string{"sh", "echo", "cat", "ls", "sha256sum", "wc", "uname"} {
		files = append(files, file{Name: "bin/" + applet, Link: "busybox"})
	}
	files = append(files, file{Name: "tmp/.keep"})
	path := s.Path(name)
	writeTar(t, path, append(files, extra...))
	return path
}

// pushDigest finds the manifest digest in `docker push` output
// ("<tag>: digest: sha256:… size: N").
func pushDigest(t testing.TB, out string) string {
	t.Helper()
	m := regexp.MustCompile(`digest: (sha256:[0-9a-f]{64}) size: \d+`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no digest in push output:\n%s", out)
	}
	return m[1]
}

// manifest is the part of an image manifest or index the tests read.
type manifest struct {
	MediaType    string `json:"mediaType"`
	ArtifactType string `json:"artifactType"`
	Config       struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
	} `json:"config"`
	Layers    []descriptor `json:"layers"`
	Manifests []descriptor `json:"manifests"`
	Subject   *descriptor  `json:"subject"`
}

type descriptor struct {
	MediaType    string `json:"mediaType"`
	ArtifactType string `json:"artifactType"`
	Digest       string `json:"digest"`
	Size         int64  `json:"size"`
	Platform     *struct {
		OS           string `json:"os"`
		Architecture string `json:"architecture"`
	} `json:"platform"`
	Annotations map[string]string `json:"annotations"`
}

const acceptAll = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, " +
	"application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"

// get fetches a registry path (following blob redirects) and fails the
// test unless it answers 200.
func (r *registry) get(t testing.TB, path, accept string) ([]byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+r.Host+path, nil)
	must(t, err)
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	if r.Authorization != "" {
		req.Header.Set("Authorization", r.Authorization)
	}
	res, err := http.DefaultClient.Do(req)
	must(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	must(t, err)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %s", path, res.Status, body)
	}
	return body, res.Header
}

// Manifest fetches repo's manifest for ref, checks that its bytes hash to
// the Docker-Content-Digest the registry sent, and returns it parsed with
// that digest.
func (r *registry) Manifest(t testing.TB, repo, ref string) (manifest, string) {
	t.Helper()
	body, h := r.get(t, "/v2/"+repo+"/manifests/"+ref, acceptAll)
	d := digestOf(body)
	if got := h.Get("Docker-Content-Digest"); got != d {
		t.Fatalf("manifest %s:%s: Docker-Content-Digest %q, bytes hash to %s", repo, ref, got, d)
	}
	var m manifest
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("manifest %s:%s: %v", repo, ref, err)
	}
	return m, d
}

// Blob fetches a blob and checks that its bytes hash to its digest.
func (r *registry) Blob(t testing.TB, repo, digest string) []byte {
	t.Helper()
	body, _ := r.get(t, "/v2/"+repo+"/blobs/"+digest, "")
	if got := digestOf(body); got != digest {
		t.Fatalf("blob %s in %s: bytes hash to %s", digest, repo, got)
	}
	return body
}

// AssertImage checks that repo:ref is the manifest with digest want and
// that its config and every layer are there, with the bytes and sizes the
// manifest names. It returns the manifest.
func (r *registry) AssertImage(t testing.TB, repo, ref, want string) manifest {
	t.Helper()
	m, d := r.Manifest(t, repo, ref)
	if d != want {
		t.Fatalf("%s:%s is %s, want %s", repo, ref, d, want)
	}
	r.Blob(t, repo, m.Config.Digest)
	for _, l := range m.Layers {
		if got := int64(len(r.Blob(t, repo, l.Digest))); got != l.Size {
			t.Errorf("layer %s: %d bytes, manifest says %d", l.Digest, got, l.Size)
		}
	}
	return m
}

// Tags lists repo's tags through the registry's API.
func (r *registry) Tags(t testing.TB, repo string) []string {
	t.Helper()
	body, _ := r.get(t, "/v2/"+repo+"/tags/list", "")
	var l struct{ Tags []string }
	must(t, json.Unmarshal(body, &l))
	return l.Tags
}

func digestOf(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// uniq returns a name no earlier test run used, for local image names in
// a docker or containerd daemon that outlives the test.
func uniq(prefix string) string {
	return fmt.Sprintf("%s-%d", prefix, time.Now().UnixNano())
}
