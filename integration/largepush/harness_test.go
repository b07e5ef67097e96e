package largepush

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/integration/harness"
	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/inprocess"
	"github.com/berth-registry/berth/shared/proxy"
	"github.com/berth-registry/berth/shared/push"
	"github.com/berth-registry/berth/shared/store/dynamo/dynalite"
	"github.com/berth-registry/berth/shared/store/s3store/s3fake"
)

const mb = 1000 * 1000

// backends are the storage backends every test runs on.
var backends = []string{"embedded", "aws"}

// env is the whole registry as `berth serve` runs it (local gateway,
// AWS limits, authentication on) on one backend, with a request log.
type env struct {
	host  string // 127.0.0.1:port of the gateway
	token string // dev/admin's auth token
	mu    sync.Mutex
	log   []string
}

// start starts the registry on backend. The aws backend points the SDK
// at dynalite and an in-process gofakes3 through the environment, as a
// user of BERTH_BACKEND=aws does.
func start(t *testing.T, backend string) *env {
	t.Helper()
	cfg := config.Config{
		Backend: backend, Data: t.TempDir(), Limits: true, PresignTTL: 15 * time.Minute, LogLevel: "warn",
		Auth: true, Service: "berth", Tenancy: "dev", TokenTTL: 15 * time.Minute,
	}
	if backend == "aws" {
		endpoint := dynalite.Endpoint(t) // skips, or fails under CI=true, without dynalite
		s3 := s3fake.Start(t)
		if ep := os.Getenv(dynalite.EnvAWSEndpoint); ep != "" {
			s3 = ep
		}
		harness.UseAWSEndpoints(t, endpoint, s3)
		cfg.Table, cfg.Bucket, cfg.Init = dynalite.TableName("berth-lp"), dynalite.TableName("berth-lp"), true
		key, err := auth.NewSigningKey()
		if err != nil {
			t.Fatal(err)
		}
		cfg.SigningKey = string(key)
	}
	e := &env{}
	var l *inprocess.Local
	e.host, l = harness.Start(t, cfg, harness.Wrap(e.record))
	e.token = l.AdminToken
	return e
}

// record wraps the gateway h to log the requests it serves.
func (e *env) record(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.log = append(e.log, r.Method+" "+r.URL.Path+"?"+r.URL.RawQuery)
		e.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// count returns how many gateway requests contain every substring.
func (e *env) count(subs ...string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
next:
	for _, l := range e.log {
		for _, s := range subs {
			if !strings.Contains(l, s) {
				continue next
			}
		}
		n++
	}
	return n
}

// client is a push client logged in as dev/admin.
func (e *env) client(t *testing.T) *push.Client {
	t.Helper()
	c, err := push.NewClient("http://"+e.host, "dev/admin", e.token)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// partCounter is a transport to storage that counts the part PUTs
// storage accepted (on the aws backend they do not pass the gateway).
type partCounter struct {
	next http.RoundTripper
	mu   sync.Mutex
	n    int
}

func (p *partCounter) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := p.next.RoundTrip(r)
	if err == nil && res.StatusCode == http.StatusOK && r.Method == http.MethodPut && r.URL.Query().Get("partNumber") != "" {
		p.mu.Lock()
		p.n++
		p.mu.Unlock()
	}
	return res, err
}

// parts returns how many parts storage accepted.
func (p *partCounter) parts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.n
}

// startProxy serves `berth proxy` for e on a 127.0.0.1 port and returns
// its host:port and the count of the parts it sent.
func startProxy(t *testing.T, e *env) (string, *partCounter) {
	t.Helper()
	c := e.client(t)
	pc := &partCounter{next: c.Storage.Transport}
	c.Storage.Transport = pc
	host := harness.Serve(t, proxy.New(c, &push.Uploader{Client: c}, slog.New(slog.NewTextHandler(io.Discard, nil))))
	return host, pc
}

// need skips the test unless docker (with a daemon) and a static
// busybox are there; with CI=true it fails instead.
func need(t *testing.T) {
	t.Helper()
	why := ""
	if _, err := exec.LookPath("docker"); err != nil {
		why = "docker is not on PATH"
	} else if out, err := exec.Command("docker", "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		why = fmt.Sprintf("the docker daemon does not answer (%v: %s)", err, strings.TrimSpace(string(out)))
	} else if f, err := elf.Open("/bin/busybox"); err != nil {
		why = "/bin/busybox is missing (apt-get install busybox-static)"
	} else {
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				why = "/bin/busybox is dynamically linked; the image needs busybox-static"
			}
		}
		f.Close()
	}
	if why == "" {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s; CI must run scripts/ci-clients.sh and source its env file", why)
	}
	t.Skipf("%s; run scripts/ci-clients.sh and source the env file it writes", why)
}

// run runs a command that must succeed and returns its output.
func run(t *testing.T, env []string, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("$ %s %s  (%.1fs)", name, strings.Join(args, " "), time.Since(start).Seconds())
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, tail(out.String()))
	}
	return out.String()
}

// runIn runs a command with stdin that must succeed.
func runIn(t *testing.T, env []string, stdin, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

// runQuiet runs a cleanup command, ignoring what it says.
func runQuiet(env []string, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Env = append(os.Environ(), env...)
	return cmd.Run()
}

func tail(s string) string {
	if len(s) > 4000 {
		return "…" + s[len(s)-4000:]
	}
	return s
}

// filler writes n incompressible bytes quickly: a random 1 MiB block,
// stamped every 4 KiB with its position, so no stretch repeats within
// deflate's window and compression finds nothing.
func filler(w io.Writer, n int64, seed uint64) error {
	base := make([]byte, 1<<20)
	_, _ = rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8)}).Read(base)
	buf := make([]byte, len(base))
	for off := int64(0); off < n; off += int64(len(buf)) {
		copy(buf, base)
		for i := 0; i < len(buf); i += 4096 {
			binary.LittleEndian.PutUint64(buf[i:], uint64(off)+uint64(i)^seed)
		}
		if _, err := w.Write(buf[:min(int64(len(buf)), n-off)]); err != nil {
			return err
		}
	}
	return nil
}

// tarEntry is one file of a tar the tests write: Size filler bytes
// (seeded) or Body, or a symlink to Link.
type tarEntry struct {
	Name, Link string
	Body       []byte
	Size       int64
	Seed       uint64
	Mode       int64
}

// writeTar writes entries to w and returns the sha256 of each filler
// file by name.
func writeTar(w io.Writer, entries []tarEntry) (map[string]string, error) {
	sums := map[string]string{}
	tw := tar.NewWriter(w)
	epoch := time.Unix(1700000000, 0)
	for _, e := range entries {
		h := &tar.Header{Name: e.Name, Mode: e.Mode, ModTime: epoch, Typeflag: tar.TypeReg, Size: int64(len(e.Body))}
		if h.Mode == 0 {
			h.Mode = 0o644
		}
		switch {
		case strings.HasSuffix(e.Name, "/"):
			h.Typeflag, h.Mode = tar.TypeDir, 0o755
		case e.Link != "":
			h.Typeflag, h.Linkname, h.Size, h.Mode = tar.TypeSymlink, e.Link, 0, 0o777
		case e.Body == nil:
			h.Size = e.Size
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if h.Typeflag == tar.TypeReg && e.Body == nil {
			hs := sha256.New()
			if err := filler(io.MultiWriter(tw, hs), e.Size, e.Seed); err != nil {
				return nil, err
			}
			sums[e.Name] = hex.EncodeToString(hs.Sum(nil))
		} else if _, err := tw.Write(e.Body); err != nil {
			return nil, err
		}
	}
	return sums, tw.Close()
}

// tarWriter writes members whose bytes come from readers.
type tarWriter struct{ tw *tar.Writer }

func newTarWriter(w io.Writer) *tarWriter { return &tarWriter{tar.NewWriter(w)} }

func (w *tarWriter) add(t *testing.T, name string, size int64, r io.Reader) {
	t.Helper()
	if err := w.tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, Typeflag: tar.TypeReg, ModTime: time.Unix(1700000000, 0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(w.tw, r, size); err != nil {
		t.Fatal(err)
	}
}

func (w *tarWriter) close(t *testing.T) {
	t.Helper()
	if err := w.tw.Close(); err != nil {
		t.Fatal(err)
	}
}

// busyboxRoot is the entries of a minimal rootfs: a static busybox
// with the applets the tests run.
func busyboxRoot(t *testing.T) []tarEntry {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	es := []tarEntry{{Name: "bin/"}, {Name: "tmp/"}, {Name: "bin/busybox", Body: bb, Mode: 0o755}}
	for _, a := range []string{"sh", "sha256sum", "cat", "ls"} {
		es = append(es, tarEntry{Name: "bin/" + a, Link: "busybox"})
	}
	return es
}
