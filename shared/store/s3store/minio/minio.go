// Package minio gives tests an S3 API that checks what AWS checks and
// gofakes3 does not: MinIO's server, which verifies SigV4 signatures
// (headers and presigned queries), presigned-URL expiry, and the 5 MiB
// minimum size of every multipart part but the last.
package minio

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Variables scripts/ci-emulators.sh sets for a running server.
const (
	EnvEndpoint  = "BERTH_TEST_S3_ENDPOINT"
	EnvAccessKey = "BERTH_TEST_S3_ACCESS_KEY"
	EnvSecretKey = "BERTH_TEST_S3_SECRET_KEY"
)

// Server is a running MinIO and the credentials it takes.
type Server struct {
	Endpoint, AccessKey, SecretKey string
}

// Client returns an S3 client for the server (path-style, us-east-1).
func (s Server) Client() *s3.Client {
	return s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.Endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.AccessKey, s.SecretKey, ""),
	})
}

// Bin returns the minio executable that scripts/ci-emulators.sh
// installs (${BERTH_TOOLS:-~/.cache/berth-tools}/minio/<version>/minio),
// or "".
func Bin() string {
	tools := os.Getenv("BERTH_TOOLS")
	if tools == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		tools = filepath.Join(home, ".cache", "berth-tools")
	}
	m, _ := filepath.Glob(filepath.Join(tools, "minio", "*", "minio"))
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1]
}

var (
	once     sync.Once
	started  Server
	startErr error
)

// Start returns a MinIO for the test: the one named by EnvEndpoint, or
// one started from Bin() once per test binary (it is killed when the
// binary exits: it runs with the binary's lifetime as a pipe). Without
// either the test skips, or fails when CI=true.
func Start(t testing.TB) Server {
	t.Helper()
	if ep := os.Getenv(EnvEndpoint); ep != "" {
		return Server{Endpoint: ep, AccessKey: os.Getenv(EnvAccessKey), SecretKey: os.Getenv(EnvSecretKey)}
	}
	bin := Bin()
	if bin == "" {
		msg := "no MinIO: set " + EnvEndpoint + " or run scripts/ci-emulators.sh to build it (go install github.com/minio/minio, ~7 min once)"
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI=true: failing instead of skipping)", msg)
		}
		t.Skip(msg)
	}
	once.Do(func() { started, startErr = start(bin) })
	if startErr != nil {
		t.Fatalf("starting MinIO: %v", startErr)
	}
	return started
}

// lifeline keeps the started server's stdin open while this process
// lives; the wrapper shell kills MinIO when it closes.
var lifeline io.WriteCloser

// start runs MinIO on a free 127.0.0.1 port with data in a temporary
// directory, and waits until it serves.
func start(bin string) (Server, error) {
	dir, err := os.MkdirTemp("", "berth-minio-")
	if err != nil {
		return Server{}, err
	}
	s := Server{AccessKey: "berthtest", SecretKey: "berthtest-secret"}
	var lastErr error
	for range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return Server{}, err
		}
		addr := ln.Addr().String()
		ln.Close()
		// sh waits for stdin to close (this process exiting), then ends
		// MinIO and removes its data.
		cmd := exec.Command("sh", "-c", `"$0" server --quiet --address "$1" --console-address 127.0.0.1:0 "$2" </dev/null & pid=$!; cat >/dev/null; kill $pid; wait $pid; rm -rf "$2"`,
			bin, addr, filepath.Join(dir, "data"))
		cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+s.AccessKey, "MINIO_ROOT_PASSWORD="+s.SecretKey, "MINIO_BROWSER=off")
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return Server{}, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return Server{}, err
		}
		cmd.Stderr = cmd.Stdout
		if err := cmd.Start(); err != nil {
			return Server{}, err
		}
		go func() { _, _ = io.Copy(io.Discard, out) }()
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
				c.Close()
				lifeline = stdin
				s.Endpoint = "http://" + addr
				return s, nil
			}
			time.Sleep(100 * time.Millisecond)
		}
		stdin.Close()
		_ = cmd.Wait()
		lastErr = fmt.Errorf("MinIO did not listen on %s within 30s", addr)
	}
	return Server{}, lastErr
}
