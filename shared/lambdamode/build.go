package lambdamode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// FunctionNames lists the functions of the source tree at root: every
// functions/<name> directory with a main.go.
func FunctionNames(root string) ([]string, error) {
	mains, err := filepath.Glob(filepath.Join(root, "functions", "*", "main.go"))
	if err != nil {
		return nil, err
	}
	var names []string
	for _, m := range mains {
		names = append(names, filepath.Base(filepath.Dir(m)))
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("no functions/*/main.go under %s", root)
	}
	return names, nil
}

// BuildFlags are the flags the Makefile's build rule gives every
// function; Lambda mode builds with the same ones, for this machine.
var BuildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w"}

// Build builds each named function as dir/<name>/bootstrap for this
// machine (as `make build` does for arm64: static, stripped, without the
// net/rpc runtime), and zips it as dir/<name>.zip for the stack to take
// as its code. One `go build` builds them all, sharing the work.
func Build(ctx context.Context, root, dir string, names []string) error {
	bin := filepath.Join(dir, "bin") + string(filepath.Separator)
	args := append([]string{"build"}, BuildFlags...)
	args = append(args, "-o", bin)
	for _, n := range names {
		args = append(args, "./functions/"+n)
	}
	if err := run(ctx, root, []string{"CGO_ENABLED=0"}, "go", args...); err != nil {
		return fmt.Errorf("building the functions: %w", err)
	}
	zipper := filepath.Join(dir, "zipbootstrap")
	if err := run(ctx, root, nil, "go", "build", "-o", zipper, "./scripts/zipbootstrap"); err != nil {
		return err
	}
	for _, n := range names {
		fdir := filepath.Join(dir, n)
		if err := os.MkdirAll(fdir, 0o755); err != nil {
			return err
		}
		if err := os.Rename(filepath.Join(bin, n), filepath.Join(fdir, "bootstrap")); err != nil {
			return err
		}
		if err := run(ctx, fdir, nil, zipper, filepath.Join(dir, n+".zip"), "bootstrap"); err != nil {
			return err
		}
	}
	return nil
}

// Synth synthesizes the stack (infra/, as `make synth` does: offline,
// without the CDK CLI) with its functions' code taken from distDir
// (Build's zips), into outDir, and returns the stack template's path.
func Synth(ctx context.Context, root, distDir, outDir string) (string, error) {
	cdkContext, err := json.Marshal(map[string]string{"distDir": distDir})
	if err != nil {
		return "", err
	}
	env := []string{"CDK_OUTDIR=" + outDir, "CDK_CONTEXT_JSON=" + string(cdkContext), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=1"}
	if err := run(ctx, filepath.Join(root, "infra"), env, "go", "run", "."); err != nil {
		return "", fmt.Errorf("synthesizing the stack (needs Node.js 20+): %w", err)
	}
	return StackTemplate(outDir)
}

// StackTemplate finds the main stack's template in a cloud assembly
// directory (infra/cdk.out): the one template that is not the
// CloudFront front door's support stack (<stack>-edge).
func StackTemplate(outDir string) (string, error) {
	all, err := filepath.Glob(filepath.Join(outDir, "*.template.json"))
	if err != nil {
		return "", err
	}
	var found []string
	for _, p := range all {
		if !strings.HasSuffix(p, "-edge.template.json") {
			found = append(found, p)
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("want one stack template in %s, found %v (run make synth)", outDir, found)
	}
	return found[0], nil
}

// run runs a command in dir with env added to this process's, and
// returns its output in the error when it fails.
func run(ctx context.Context, dir string, env []string, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return err
	}
	return nil
}
