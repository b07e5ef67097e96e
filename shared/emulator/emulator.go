// Package emulator gives tests the emulators that scripts/ci-emulators.sh
// installs under ${BERTH_TOOLS:-~/.cache/berth-tools} and starts: MinIO
// (an S3 API that checks what AWS checks and gofakes3 does not: SigV4
// signatures of headers and presigned queries, presigned-URL expiry, the
// 5 MiB minimum part size), local-kms (a KMS API) and the Lambda Runtime
// Interface Emulator. Each is taken from the variable the script writes,
// else started from the installed binary once per test binary (it ends
// with the binary); without either the test skips, or fails when CI=true.
// (dynalite, the DynamoDB emulator, has its own package:
// shared/store/dynamo/dynalite.) The distribution registry (CNCF's
// registry:3), an upstream for the pull-through cache's tests, is
// installed there too; each test starts its own (Distribution).
package emulator

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Variables scripts/ci-emulators.sh writes.
const (
	EnvS3Endpoint  = "BERTH_TEST_S3_ENDPOINT"
	EnvS3AccessKey = "BERTH_TEST_S3_ACCESS_KEY"
	EnvS3SecretKey = "BERTH_TEST_S3_SECRET_KEY"
	EnvKMSEndpoint = "BERTH_TEST_KMS_ENDPOINT"
	EnvRIE         = "BERTH_RIE"
	// EnvDistribution is the distribution registry's executable.
	EnvDistribution = "BERTH_DISTRIBUTION_REGISTRY"
)

// install is how to get every tool this package finds.
const install = "run scripts/ci-emulators.sh (it installs MinIO, local-kms, aws-lambda-rie and the distribution registry under ${BERTH_TOOLS:-~/.cache/berth-tools}; MinIO's first build takes ~7 minutes, the registry's ~3) and source the env file it writes"

// S3 is a running MinIO and the credentials it takes.
type S3 struct {
	Endpoint, AccessKey, SecretKey string
}

// Client returns an S3 client for the server (path-style, us-east-1).
func (s S3) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
}

// Tools is the directory scripts/ci-emulators.sh installs into.
func Tools() string {
	if d := os.Getenv("BERTH_TOOLS"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "berth-tools")
}

// find returns the installed tool <Tools>/<dir>/<version>/<name>, or "".
func find(dir, name string) string {
	m, _ := filepath.Glob(filepath.Join(Tools(), dir, "*", name))
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1]
}

// missing skips the test, or fails it under CI=true.
func missing(t testing.TB, what string) {
	t.Helper()
	msg := fmt.Sprintf("no %s: %s", what, install)
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: failing instead of skipping)", msg)
	}
	t.Skip(msg)
}

var (
	s3Once, kmsOnce sync.Once
	s3Started       S3
	kmsStarted      string
	s3Err, kmsErr   error
	// lifelines are the started servers' stdin: open while this process
	// lives (a package variable, so no finalizer closes them); the shell
	// around each server ends it when its stdin closes.
	lifelines []io.WriteCloser
)

// MinIO returns an S3 API for the test: $BERTH_TEST_S3_ENDPOINT, or a
// MinIO started from the installed binary.
func MinIO(t testing.TB) S3 {
	t.Helper()
	if ep := os.Getenv(EnvS3Endpoint); ep != "" {
		return S3{Endpoint: ep, AccessKey: os.Getenv(EnvS3AccessKey), SecretKey: os.Getenv(EnvS3SecretKey)}
	}
	bin := find("minio", "minio")
	if bin == "" {
		missing(t, "MinIO ("+EnvS3Endpoint+" unset, none installed)")
	}
	s3Once.Do(func() {
		s := S3{AccessKey: "berthtest", SecretKey: "berthtest-secret"}
		s.Endpoint, s3Err = start(bin, "/minio/health/ready", []string{"MINIO_ROOT_USER=" + s.AccessKey, "MINIO_ROOT_PASSWORD=" + s.SecretKey, "MINIO_BROWSER=off"},
			"server", "--quiet", "--address", "{addr}", "--console-address", "127.0.0.1:0", "{dir}")
		s3Started = s
	})
	if s3Err != nil {
		t.Fatalf("starting MinIO: %v", s3Err)
	}
	return s3Started
}

// KMS returns a KMS API endpoint for the test: $BERTH_TEST_KMS_ENDPOINT,
// or local-kms started from the installed binary.
func KMS(t testing.TB) string {
	t.Helper()
	if ep := os.Getenv(EnvKMSEndpoint); ep != "" {
		return ep
	}
	bin := find("localkms", "local-kms")
	if bin == "" {
		missing(t, "local-kms ("+EnvKMSEndpoint+" unset, none installed)")
	}
	kmsOnce.Do(func() { kmsStarted, kmsErr = start(bin, "", nil, "-addr", "{addr}", "-data", "{dir}") })
	if kmsErr != nil {
		t.Fatalf("starting local-kms: %v", kmsErr)
	}
	return kmsStarted
}

// KMSConfig points the process's KMS calls (AWS_ENDPOINT_URL_KMS, for
// this test) at the KMS emulator and returns an SDK configuration with
// the emulator's test credentials.
func KMSConfig(t testing.TB) aws.Config {
	t.Setenv("AWS_ENDPOINT_URL_KMS", KMS(t))
	return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")}
}

// KMSKey creates a symmetric key (ENCRYPT_DECRYPT, as the stack's cache
// key) in the KMS emulator of KMS and returns a client of the emulator
// and the key's ARN.
func KMSKey(t testing.TB) (*kms.Client, string) {
	t.Helper()
	c := kms.New(kms.Options{Region: "us-east-1", BaseEndpoint: aws.String(KMS(t)),
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", "")})
	out, err := c.CreateKey(t.Context(), &kms.CreateKeyInput{Description: aws.String("berth test: " + t.Name())})
	if err != nil {
		t.Fatalf("creating a key in the KMS emulator: %v", err)
	}
	return c, aws.ToString(out.KeyMetadata.Arn)
}

// RIE returns the Lambda Runtime Interface Emulator: $BERTH_RIE, else
// aws-lambda-rie on PATH, else the installed one.
func RIE(t testing.TB) string {
	t.Helper()
	p := os.Getenv(EnvRIE)
	if p == "" {
		if p, _ = exec.LookPath("aws-lambda-rie"); p == "" {
			p = find("rie", "aws-lambda-rie")
		}
	}
	if p == "" {
		missing(t, "aws-lambda-rie")
	}
	return p
}

// Distribution returns the distribution registry's executable
// (github.com/distribution/distribution/v3/cmd/registry):
// $BERTH_DISTRIBUTION_REGISTRY, else the installed one. A test runs it
// with a configuration of its own.
func Distribution(t testing.TB) string {
	t.Helper()
	p := os.Getenv(EnvDistribution)
	if p == "" {
		p = find("distribution", "registry")
	}
	if p == "" {
		missing(t, "distribution registry ("+EnvDistribution+" unset, none installed)")
	}
	return p
}

// DistributionConfig is a configuration of the distribution registry:
// the filesystem driver rooted at root, listening on addr, deletes
// allowed, no access log, logging at level. A caller appends what it
// needs more (an auth section).
func DistributionConfig(root, addr, level string) string {
	return fmt.Sprintf(`version: 0.1
log:
  level: %s
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
http:
  addr: %s
`, level, root, addr)
}

// start runs bin with args ({addr}: a free 127.0.0.1 port, {dir}: a new
// temporary directory) under a shell that ends it, and removes the
// directory, when this process's end closes its stdin. It waits until
// the address takes connections (and, when ready is a path, until a GET
// of it answers 200) and returns its URL.
func start(bin, ready string, env []string, args ...string) (string, error) {
	var lastErr error
	for range 3 {
		dir, err := os.MkdirTemp("", "berth-emulator-")
		if err != nil {
			return "", err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		addr := ln.Addr().String()
		ln.Close()
		argv := []string{"-c", `"$@" </dev/null & pid=$!; cat >/dev/null; kill $pid; wait $pid; rm -rf "$0"`, dir, bin}
		for _, a := range args {
			switch a {
			case "{addr}":
				a = addr
			case "{dir}":
				a = filepath.Join(dir, "data")
			}
			argv = append(argv, a)
		}
		cmd := exec.Command("sh", argv...)
		cmd.Env = append(os.Environ(), env...)
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return "", err
		}
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			return "", err
		}
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if up(addr, ready) {
				lifelines = append(lifelines, stdin)
				return "http://" + addr, nil
			}
		}
		stdin.Close()
		_ = cmd.Wait()
		lastErr = fmt.Errorf("%s did not listen on %s within 30s", bin, addr)
	}
	return "", lastErr
}

// up reports whether addr takes connections and, when ready is a path,
// answers a GET of it with 200.
func up(addr, ready string) bool {
	if ready == "" {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	}
	c := http.Client{Timeout: time.Second}
	res, err := c.Get("http://" + addr + ready)
	if err != nil {
		return false
	}
	res.Body.Close()
	return res.StatusCode == http.StatusOK
}
