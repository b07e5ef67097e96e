package harness

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/emulator"
	"github.com/berth-registry/berth/shared/lambdamode"
	"github.com/berth-registry/berth/shared/store/dynamo/dynalite"
)

// lambda is the one registry in Lambda mode a test binary starts: the
// functions are built and the stack synthesized once (about half a
// minute), and every test serves the same gateway on its own listener.
var lambda struct {
	once  sync.Once
	local *lambdamode.Local
	err   error
	logs  Logs
}

// StartLambda serves the registry in Lambda mode (docs/lambda-mode.md) as
// `make run-lambda` does — every function's bootstrap under the Lambda
// Runtime Interface Emulator, configured from the synthesized stack, on
// dynalite, MinIO and local-kms — on a random 127.0.0.1 port until the
// test ends, and returns its host:port and dev/admin's auth token. The
// registry itself starts once per test binary and is shared (its
// environments end with the binary); Wrap applies to this test's
// listener. Without the emulators or Node.js the test skips, or fails
// when CI=true. What the gateway and the functions logged is shown if
// the test fails.
func StartLambda(t testing.TB, opts ...Option) (host, adminToken string) {
	t.Helper()
	o := options{}
	for _, opt := range opts {
		opt(&o)
	}
	rie, s3, kms, ddb := emulator.RIE(t), emulator.MinIO(t), emulator.KMS(t), dynalite.Endpoint(t)
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("Lambda mode synthesizes the stack with the CDK, which needs Node.js 20+ (CI=true: failing instead of skipping)")
		}
		t.Skip("Lambda mode synthesizes the stack with the CDK, which needs Node.js 20+")
	}
	lambda.once.Do(func() { lambda.local, lambda.err = startLambda(t, rie, s3, kms, ddb) })
	if lambda.err != nil {
		t.Fatalf("starting Lambda mode: %v\n%s", lambda.err, lambda.logs.Tail(16<<10))
	}
	mark := lambda.logs.Len()
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("Lambda mode's logs since the test began:\n%s", lambda.logs.Since(mark, 16<<10))
		}
	})
	var h http.Handler = lambda.local.Gateway
	if o.wrap != nil {
		h = o.wrap(h)
	}
	return Serve(t, h), lambda.local.AdminToken
}

// startLambda builds the functions into a directory that outlives the
// test and starts Lambda mode. The directory is in the user's cache, one
// per source tree and test package, reused by the next run (each run
// holds some 300 MB of bootstraps, zips and stack assets).
func startLambda(t testing.TB, rie string, s3 emulator.S3, kms, ddb string) (*lambdamode.Local, error) {
	root, err := moduleRoot()
	if err != nil {
		return nil, err
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return nil, err
	}
	wd, _ := os.Getwd()
	sum := sha256.Sum256([]byte(root))
	dir := filepath.Join(cache, "berth-lambda", hex.EncodeToString(sum[:6]), filepath.Base(wd))
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	cfg := config.Config{
		Backend: "aws", Table: dynalite.TableName("berth-lambda"), Bucket: dynalite.TableName("berth-lambda"), Init: true,
		Data: dir, Limits: true, PresignTTL: 15 * time.Minute, LogLevel: "info",
		Auth: true, Service: "berth", Tenancy: "dev", TokenTTL: 15 * time.Minute,
	}
	log := slog.New(slog.NewJSONHandler(&lambda.logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	l, err := lambdamode.NewLocal(ctx, cfg, lambdamode.Options{
		Root: root, Dir: dir, RIE: rie,
		Region: "us-east-1", AccessKeyID: s3.AccessKey, SecretAccessKey: s3.SecretKey,
		// The registry listens on 127.0.0.1 (Serve).
		Endpoints: lambdamode.Endpoints{DynamoDB: ddb, S3: lambdamode.S3ForClients(s3.Endpoint, "127.0.0.1:0"), KMS: kms},
		Logs:      &lambda.logs,
		// The pull-through cache's tests run their upstreams on the
		// loopback, which only this setting lets a cache reach.
		ExtraEnv: map[string]string{"BERTH_CACHE_INSECURE": "1"},
	}, log)
	if err == nil {
		t.Logf("Lambda mode started in %.1fs (template %s)", time.Since(start).Seconds(), l.Runner.Template)
	}
	return l, err
}

// moduleRoot is the source tree the test runs in: go test runs a test in
// its package's directory, under the module's go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "functions")); err == nil {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				return dir, nil
			}
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}

// Since returns what was logged after the first mark bytes (a Len), at
// most its last n bytes.
func (b *Logs) Since(mark, n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.buf.String()[mark:]
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return strings.ToValidUTF8(s, "")
}

// LambdaLogs is what Lambda mode's gateway and functions have logged so
// far (their JSON lines, with the emulator's own warnings and errors).
func LambdaLogs() *Logs { return &lambda.logs }
