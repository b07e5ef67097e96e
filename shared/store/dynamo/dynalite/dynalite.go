// Package dynalite gives tests a DynamoDB emulator: dynalite (npm), a
// DynamoDB API server on LevelDB in memory.
//
// What dynalite does not do, so tests against it cannot catch: request
// signatures (any credentials pass), TTL (no UpdateTimeToLive, nothing
// expires: the store checks expiry on read, which is what is tested),
// transactions (the store uses none), and throughput limits. It does
// check key schemas, condition expressions, reserved words, item sizes
// and Query semantics.
package dynalite

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
)

// EnvEndpoint names the variable holding a running emulator's URL, as
// scripts/ci-emulators.sh writes it.
const EnvEndpoint = "BERTH_TEST_DYNAMODB_ENDPOINT"

// EnvAWSEndpoint names the variable holding one endpoint for every AWS
// service the tests use (LocalStack: integration/localstack/run.sh). It
// wins over EnvEndpoint.
const EnvAWSEndpoint = "BERTH_TEST_AWS_ENDPOINT"

// Bin returns the dynalite executable that scripts/ci-emulators.sh
// installs ($BERTH_TOOLS/dynalite, default ~/.cache/berth-tools), or "".
func Bin() string {
	tools := os.Getenv("BERTH_TOOLS")
	if tools == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return ""
		}
		tools = filepath.Join(home, ".cache", "berth-tools")
	}
	p := filepath.Join(tools, "dynalite", "node_modules", ".bin", "dynalite")
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

var (
	started    sync.Once
	startedURL string
	startErr   error
	// lifeline is dynalite's stdin: it stays open while this process
	// lives (a package variable, so no finalizer closes it), and node
	// exits when it closes.
	//lint:ignore U1000 written only: holding it is its purpose
	lifeline io.WriteCloser
)

// exitWithStdin runs a node script (argv[1]) and exits when stdin
// closes, so an emulator started by a test binary dies with it.
const exitWithStdin = `process.stdin.on("end", () => process.exit(0)).on("close", () => process.exit(0)).resume(); require(process.argv[1])`

// Endpoint returns the URL of a DynamoDB API for the test:
// $EnvAWSEndpoint or $EnvEndpoint when set, else a dynalite started from
// Bin() once per test binary (it exits with the binary: its stdin is a
// pipe the binary holds). Without any the test skips, or fails when
// CI=true: CI must not pass by skipping.
func Endpoint(t testing.TB) string {
	t.Helper()
	for _, v := range []string{EnvAWSEndpoint, EnvEndpoint} {
		if u := os.Getenv(v); u != "" {
			return u
		}
	}
	bin := Bin()
	if bin == "" {
		msg := "no DynamoDB emulator: set " + EnvEndpoint + " or run scripts/ci-emulators.sh to install dynalite"
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s (CI=true: failing instead of skipping)", msg)
		}
		t.Skip(msg)
	}
	started.Do(func() { startedURL, startErr = start(bin) })
	if startErr != nil {
		t.Fatalf("starting dynalite: %v", startErr)
	}
	return startedURL
}

// start runs dynalite on a free 127.0.0.1 port and waits for it.
func start(bin string) (string, error) {
	cli, err := filepath.EvalSymlinks(bin) // node_modules/dynalite/cli.js
	if err != nil {
		return "", err
	}
	var lastErr error
	for range 3 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return "", err
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		cmd := exec.Command("node", "-e", exitWithStdin, cli, "--host", "127.0.0.1", "--port", strconv.Itoa(port),
			"--createTableMs", "0", "--deleteTableMs", "0", "--updateTableMs", "0")
		stdin, err := cmd.StdinPipe()
		if err != nil {
			return "", err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return "", err
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			return "", err
		}
		ready := make(chan bool, 1)
		go func() {
			s := bufio.NewScanner(out)
			for s.Scan() {
				if strings.Contains(s.Text(), "listening at") {
					ready <- true
				}
			}
			ready <- false
		}()
		select {
		case ok := <-ready:
			if ok {
				lifeline = stdin
				return fmt.Sprintf("http://127.0.0.1:%d", port), nil
			}
			stdin.Close()
			lastErr = fmt.Errorf("dynalite exited: %v", cmd.Wait())
		case <-time.After(30 * time.Second):
			stdin.Close()
			_ = cmd.Process.Kill()
			lastErr = fmt.Errorf("dynalite did not listen within 30s")
		}
	}
	return "", lastErr
}

// Client returns a DynamoDB client for endpoint (any credentials pass).
func Client(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(endpoint),
		Credentials:  credentials.NewStaticCredentialsProvider("test", "test", ""),
	})
}

// TableName returns a fresh table name for one test.
func TableName(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + "-" + hex.EncodeToString(b)
}
