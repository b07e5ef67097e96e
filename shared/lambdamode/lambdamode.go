// Package lambdamode runs Berth's functions as they run on AWS, on one
// machine (docs/lambda-mode.md): each functions/<name> built as its real
// bootstrap, started under the Lambda Runtime Interface Emulator
// (aws-lambda-rie) with exactly the environment, memory size and timeout
// that the synthesized stack gives it, and invoked with JSON events — the
// local gateway's Invoker for every route and for the authorizer. The
// AWS services are emulators: DynamoDB, an S3 that checks signatures,
// KMS, and Lambda's own Invoke API, which this package serves.
package lambdamode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// Endpoints are the emulators the functions call, each a URL.
type Endpoints struct {
	DynamoDB, S3, KMS string
}

// Options configure Start.
type Options struct {
	// Root is the source tree (the directory with functions/ and infra/).
	Root string
	// Dir receives the bootstraps, zips and synthesized stack; it must
	// exist.
	Dir string
	// Template is a synthesized stack template to run (make synth's
	// infra/cdk.out/<stack>.template.json); empty synthesizes one from
	// the bootstraps Start builds.
	Template string
	// Table and Bucket stand in for the stack's table and bucket.
	Table, Bucket string
	// Region and the static credentials the functions get, as Lambda
	// gives a function its role's credentials.
	Region, AccessKeyID, SecretAccessKey string
	Endpoints                            Endpoints
	// RIE is the aws-lambda-rie executable (FindRIE).
	RIE string
	// MaxInstances bounds each function's execution environments (its
	// concurrency); default 8.
	MaxInstances int
	// Logs receives the functions' own output lines; nil drops them.
	Logs io.Writer
	// Log is where the runner logs.
	Log *slog.Logger
	// ExtraEnv is added to every function's environment (GODEBUG for
	// the cold-start benchmark); it may not override the stack's.
	ExtraEnv map[string]string
}

// Runner runs every function of the stack in its own pool.
type Runner struct {
	// Pools holds each function's pool by name.
	Pools map[string]*Pool
	// Template is the stack template the functions were configured from.
	Template  string
	api       *invokeAPI
	srv       *http.Server
	cancel    context.CancelFunc
	opts      Options
	lambdaURL string
}

// Start builds the functions, reads (or synthesizes) the stack, creates
// the token-signing key in the KMS emulator when the stack has one, and
// starts the invoke API. Execution environments start on first use.
func Start(ctx context.Context, o Options) (*Runner, error) {
	if o.MaxInstances <= 0 {
		o.MaxInstances = 8
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if _, err := os.Stat(o.RIE); err != nil {
		return nil, fmt.Errorf("the Lambda Runtime Interface Emulator: %w (%s)", err, InstallHint)
	}
	names, err := FunctionNames(o.Root)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := Build(ctx, o.Root, o.Dir, names); err != nil {
		return nil, err
	}
	o.Log.Info("lambda mode: functions built", "functions", len(names), "seconds", time.Since(start).Seconds())
	tpl := o.Template
	if tpl == "" {
		start = time.Now()
		if tpl, err = Synth(ctx, o.Root, o.Dir, filepath.Join(o.Dir, "cdk.out")); err != nil {
			return nil, err
		}
		o.Log.Info("lambda mode: stack synthesized", "template", tpl, "seconds", time.Since(start).Seconds())
	}
	keys := map[string]string{} // by spec: each key is made once
	fns, err := ReadTemplate(tpl, Locals{Table: o.Table, Bucket: o.Bucket, KeyARN: func(spec string) (string, error) {
		if arn, ok := keys[spec]; ok {
			return arn, nil
		}
		arn, err := createKey(ctx, o, spec)
		if err == nil {
			keys[spec] = arn
		}
		return arn, err
	}})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	actx, cancel := context.WithCancel(context.Background())
	lambdaURL := "http://" + ln.Addr().String()
	r := &Runner{Pools: map[string]*Pool{}, Template: tpl, cancel: cancel,
		api: &invokeAPI{log: o.Log, ctx: actx}, opts: o, lambdaURL: lambdaURL}
	r.api.pools = r.Pools
	for _, fn := range fns {
		if !slices.Contains(names, fn.Name) {
			ln.Close()
			cancel()
			return nil, fmt.Errorf("the stack has function %s, and there is no functions/%s", fn.Name, fn.Name)
		}
		env, err := environment(fn, o, lambdaURL)
		if err != nil {
			ln.Close()
			cancel()
			return nil, err
		}
		r.Pools[fn.Name] = newPool(fn, o.RIE, filepath.Join(o.Dir, fn.Name, "bootstrap"), env, o.MaxInstances, o.Logs)
	}
	r.srv = &http.Server{Handler: r.api, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = r.srv.Serve(ln) }()
	return r, nil
}

// environment is what a function's process sees: the stack's variables,
// the variables Lambda sets in every execution environment, and the
// emulators' endpoints (the one addition to what AWS gives it).
func environment(fn Function, o Options, lambdaURL string) ([]string, error) {
	lambda := map[string]string{
		"AWS_REGION":                      o.Region,
		"AWS_DEFAULT_REGION":              o.Region,
		"AWS_ACCESS_KEY_ID":               o.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":           o.SecretAccessKey,
		"AWS_LAMBDA_FUNCTION_NAME":        fn.Name,
		"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": strconv.Itoa(fn.MemoryMB),
		"AWS_LAMBDA_FUNCTION_VERSION":     "$LATEST",
		"AWS_LAMBDA_LOG_GROUP_NAME":       "/aws/lambda/" + fn.Name,
		"AWS_LAMBDA_INITIALIZATION_TYPE":  "on-demand",
		"LAMBDA_TASK_ROOT":                filepath.Join(o.Dir, fn.Name),
		"TZ":                              ":UTC",
		"LANG":                            "en_US.UTF-8",
		"PATH":                            "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
		// The emulator's own: the function's timeout (Lambda enforces it
		// outside the environment).
		"AWS_LAMBDA_FUNCTION_TIMEOUT": strconv.Itoa(int(fn.Timeout / time.Second)),
		"AWS_ENDPOINT_URL_DYNAMODB":   o.Endpoints.DynamoDB,
		"AWS_ENDPOINT_URL_S3":         o.Endpoints.S3,
		"AWS_ENDPOINT_URL_KMS":        o.Endpoints.KMS,
		"AWS_ENDPOINT_URL_LAMBDA":     lambdaURL,
	}
	env := make([]string, 0, len(lambda)+len(fn.Env)+len(o.ExtraEnv))
	for k, v := range fn.Env {
		if _, reserved := lambda[k]; reserved {
			return nil, fmt.Errorf("the stack sets %s on function %s: Lambda reserves it", k, fn.Name)
		}
		env = append(env, k+"="+v)
	}
	for k, v := range lambda {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	for k, v := range o.ExtraEnv {
		if _, set := fn.Env[k]; set {
			return nil, fmt.Errorf("%s is the stack's to set on function %s", k, fn.Name)
		}
		env = append(env, k+"="+v)
	}
	slices.Sort(env)
	return env, nil
}

// createKey creates a key of the stack's in the KMS emulator, as the
// stack creates it: the token-signing key (spec ECC_NIST_P256, for
// signing), or the symmetric key that seals pull-through credentials
// (no spec).
func createKey(ctx context.Context, o Options, spec string) (string, error) {
	if o.Endpoints.KMS == "" {
		return "", errors.New("the stack has a KMS key, and no KMS emulator is set (AWS_ENDPOINT_URL_KMS; " + InstallHint + ")")
	}
	c := kms.New(kms.Options{Region: o.Region, BaseEndpoint: aws.String(o.Endpoints.KMS),
		Credentials: credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, "")})
	in := &kms.CreateKeyInput{Description: aws.String("Berth Lambda mode: pull-through cache credentials")}
	switch spec {
	case "":
	case string(types.KeySpecEccNistP256):
		in = &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify,
			Description: aws.String("Berth Lambda mode: registry token signing")}
	default:
		return "", fmt.Errorf("the stack has a KMS key of spec %s, which Lambda mode does not make", spec)
	}
	out, err := c.CreateKey(ctx, in)
	if err != nil {
		return "", fmt.Errorf("creating a key in the KMS emulator at %s: %w", o.Endpoints.KMS, err)
	}
	return aws.ToString(out.KeyMetadata.Arn), nil
}

// Add runs one more function, not the stack's (the cold-start
// benchmark's hello world), from bootstrap with fn's environment and
// Lambda's, as Start runs the stack's. Add it before the first
// invocation.
func (r *Runner) Add(fn Function, bootstrap string) (*Pool, error) {
	if _, ok := r.Pools[fn.Name]; ok {
		return nil, fmt.Errorf("the stack already has function %s", fn.Name)
	}
	env, err := environment(fn, r.opts, r.lambdaURL)
	if err != nil {
		return nil, err
	}
	p := newPool(fn, r.opts.RIE, bootstrap, env, r.opts.MaxInstances, r.opts.Logs)
	r.Pools[fn.Name] = p
	return p, nil
}

// Close stops every function, waits for queued asynchronous invocations
// to end, and stops the invoke API.
func (r *Runner) Close() error {
	r.cancel()
	r.api.async.Wait()
	for _, p := range r.Pools {
		p.Close()
	}
	return r.srv.Close()
}

// InstallHint says how to install what Lambda mode runs on.
const InstallHint = "scripts/ci-emulators.sh installs aws-lambda-rie, MinIO and local-kms under ${BERTH_TOOLS:-~/.cache/berth-tools}; see docs/lambda-mode.md"

// FindRIE returns the aws-lambda-rie executable: $BERTH_RIE, else the
// one on PATH, else the one scripts/ci-emulators.sh installs under
// tools (${BERTH_TOOLS:-~/.cache/berth-tools}); "" when there is none.
func FindRIE(berthRIE, tools string) string {
	if berthRIE != "" {
		return berthRIE
	}
	if p, err := exec.LookPath("aws-lambda-rie"); err == nil {
		return p
	}
	m, _ := filepath.Glob(filepath.Join(tools, "rie", "*", "aws-lambda-rie"))
	if len(m) > 0 {
		return m[len(m)-1]
	}
	return ""
}

// S3ForClients returns the S3 endpoint to give the functions, whose
// presigned URLs clients follow, when the registry listens on
// registryAddr. Clients send the registry's Authorization header along a
// redirect to the same host name (Go's HTTP client compares host names,
// not ports: docker, containerd and crane all do), and S3 refuses a
// presigned request that carries a second credential (400 "multiple
// authentication types"). On AWS the bucket's host is never the
// registry's; locally both are the loopback, so the functions get S3
// under the loopback's other name.
func S3ForClients(s3, registryAddr string) string {
	host, _, err := net.SplitHostPort(registryAddr)
	if err != nil {
		return s3
	}
	u, err := url.Parse(s3)
	if err != nil || u.Hostname() != host {
		return s3
	}
	switch host {
	case "127.0.0.1":
		u.Host = "localhost:" + u.Port()
	case "localhost":
		u.Host = "127.0.0.1:" + u.Port()
	}
	return u.String()
}
