package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/lambdamode"
)

// serveLambda is `berth serve --lambda` (make run-lambda): the local
// gateway in front of every function run as its bootstrap under the
// runtime emulator (docs/lambda-mode.md).
func (c *cli) serveLambda(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("serve --lambda", flag.ContinueOnError)
	template := fs.String("template", "", "a synthesized stack template (make synth: infra/cdk.out/berth-prod.template.json); default: synthesize one")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, err := config.FromEnv()
	if err != nil {
		return err
	}
	log := app.Logger(cfg.LogLevel)
	opts, err := lambdaOptions(cfg)
	if err != nil {
		return err
	}
	if *template != "" {
		if opts.Template, err = filepath.Abs(*template); err != nil {
			return err
		}
	}
	fmt.Fprintf(os.Stderr, "berth: building the functions for this machine into %s and starting them under %s ...\n", opts.Dir, opts.RIE)
	l, err := lambdamode.NewLocal(ctx, cfg, opts, log)
	if err != nil {
		return err
	}
	defer l.Close()
	limits := "Lambda mode: each function under aws-lambda-rie, configured from " + l.Runner.Template
	return c.serveGateway(ctx, l.Gateway, cfg, limits, l.AdminToken, func() {
		// The local stand-in for the hourly EventBridge rule.
		go l.Schedule(ctx, time.Hour)
	})
}

// lambdaOptions gathers what Lambda mode hands the functions from this
// process's environment: the SDK's own variables (region, credentials,
// the emulators' endpoints) and where the source tree and the tools are.
func lambdaOptions(cfg config.Config) (lambdamode.Options, error) {
	root, err := sourceRoot()
	if err != nil {
		return lambdamode.Options{}, err
	}
	dir, err := filepath.Abs(filepath.Join(cfg.Data, "lambda"))
	if err != nil {
		return lambdamode.Options{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return lambdamode.Options{}, err
	}
	endpoint := func(service string) string {
		if v := os.Getenv("AWS_ENDPOINT_URL_" + service); v != "" {
			return v
		}
		return os.Getenv("AWS_ENDPOINT_URL")
	}
	o := lambdamode.Options{
		Root: root, Dir: dir,
		Region:      os.Getenv("AWS_REGION"),
		AccessKeyID: os.Getenv("AWS_ACCESS_KEY_ID"), SecretAccessKey: os.Getenv("AWS_SECRET_ACCESS_KEY"),
		Endpoints: lambdamode.Endpoints{DynamoDB: endpoint("DYNAMODB"), S3: endpoint("S3"), KMS: endpoint("KMS")},
		RIE:       lambdamode.FindRIE(os.Getenv("BERTH_RIE"), toolsDir()),
		Logs:      os.Stderr,
	}
	o.Endpoints.S3 = lambdamode.S3ForClients(o.Endpoints.S3, cfg.Addr)
	if cfg.CacheInsecure {
		// A pull-through upstream on this machine (docs/pull-through.md).
		o.ExtraEnv = map[string]string{"BERTH_CACHE_INSECURE": "1"}
	}
	switch {
	case o.RIE == "":
		return o, errors.New("aws-lambda-rie not found (BERTH_RIE, PATH or the tools directory): " + lambdamode.InstallHint)
	case o.Endpoints.DynamoDB == "" || o.Endpoints.S3 == "":
		return o, errors.New("lambda mode runs against emulators: set AWS_ENDPOINT_URL_DYNAMODB and AWS_ENDPOINT_URL_S3 (scripts/run-lambda.sh starts them)")
	case o.Region == "" || o.AccessKeyID == "":
		return o, errors.New("set AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY for the emulators (scripts/run-lambda.sh does)")
	}
	return o, nil
}

// toolsDir is where scripts/ci-emulators.sh installs tools.
func toolsDir() string {
	if d := os.Getenv("BERTH_TOOLS"); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".cache", "berth-tools")
}

// sourceRoot finds Berth's source tree, which Lambda mode builds the
// functions from: the working directory or the nearest parent whose
// go.mod is Berth's.
func sourceRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && bytes.HasPrefix(b, []byte("module github.com/berth-registry/berth\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("berth serve --lambda builds the functions from source: run it inside Berth's source tree")
		}
		dir = parent
	}
}
