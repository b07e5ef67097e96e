package clients

import (
	"archive/tar"
	"io"
	"slices"
	"strings"
	"testing"
)

// readTar returns the body of the file called name in a tar stream.
func readTar(t *testing.T, stream, name string) (string, bool) {
	t.Helper()
	tr := tar.NewReader(strings.NewReader(stream))
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return "", false
		}
		must(t, err)
		if strings.TrimPrefix(h.Name, "/") == name {
			b, err := io.ReadAll(tr)
			must(t, err)
			return string(b), true
		}
	}
}

func TestCrane(t *testing.T) {
	need(t, "crane")
	t.Parallel()
	s := newShell(t)
	reg := startAuthRegistry(t, true)
	s.Run("crane", "auth", "login", reg.Host, "-u", "dev/admin", "-p", reg.Admin)
	layer := s.Path("layer.tar")
	const body = "pushed with crane\n"
	writeTar(t, layer, []file{{Name: "etc/berth.txt", Body: body}})
	src, dst := reg.Ref("dev/crane/src", ":1"), reg.Ref("dev/crane/dst", ":1")

	out := strings.TrimSpace(s.Run("crane", "append", "-f", layer, "-t", src))
	digest := strings.TrimSpace(s.Run("crane", "digest", src))
	if out != reg.Ref("dev/crane/src", "@"+digest) {
		t.Fatalf("crane append printed %q, crane digest says %s", out, digest)
	}
	m := reg.AssertImage(t, "dev/crane/src", "1", digest)

	mark := reg.Mark()
	s.Run("crane", "copy", src, dst)
	mounts := 0
	for _, q := range reg.Since(mark) {
		switch {
		case q.Method == "POST" && strings.Contains(q.Query, "from=dev%2Fcrane%2Fsrc") && q.Status == 201:
			mounts++
		case strings.Contains(q.Path, "/blobs/uploads/") && (q.Method == "PATCH" || q.Method == "PUT"):
			t.Errorf("crane copy uploaded bytes instead of mounting: %s", q)
		}
	}
	if mounts != len(m.Layers)+1 {
		t.Errorf("crane copy mounted %d blobs, want %d (the layer and the config)", mounts, len(m.Layers)+1)
	}
	if got := strings.TrimSpace(s.Run("crane", "digest", dst)); got != digest {
		t.Errorf("copied image digest %s, want %s", got, digest)
	}
	if got, ok := readTar(t, s.Run("crane", "export", dst, "-"), "etc/berth.txt"); !ok || got != body {
		t.Errorf("exported etc/berth.txt = %q (found %v), want %q", got, ok, body)
	}

	s.Run("crane", "tag", src, "2")
	if got := strings.Fields(s.Run("crane", "ls", reg.Ref("dev/crane/src", ""))); !slices.Equal(got, []string{"1", "2"}) {
		t.Errorf("crane ls: %v, want [1 2]", got)
	}
	if got := strings.Fields(s.Run("crane", "catalog", reg.Host)); !slices.Equal(got, []string{"dev/crane/dst", "dev/crane/src"}) {
		t.Errorf("crane catalog: %v, want [dev/crane/dst dev/crane/src]", got)
	}

	s.Run("crane", "delete", reg.Ref("dev/crane/dst", "@"+digest))
	if out := s.Fail("crane", "digest", dst); !strings.Contains(out, "MANIFEST_UNKNOWN") {
		t.Errorf("crane digest after delete: want MANIFEST_UNKNOWN, got:\n%s", out)
	}
	if got := strings.TrimSpace(s.Run("crane", "digest", src)); got != digest {
		t.Errorf("deleting the copy changed the source: %s, want %s", got, digest)
	}
}
