// Command infra is Berth's CDK app: one stack, berth-<stage>, holding the
// HTTP API, the functions that `make build` zips into dist/, the metadata
// table, the blob bucket and the retention schedule (plus, for the
// CloudFront front door outside us-east-1, the support stack
// berth-<stage>-edge holding its Lambda@Edge function). `npx cdk synth`,
// `cdk deploy` and `cdklocal deploy` run it through cdk.json; `make synth`
// runs it directly, offline, into cdk.out/. docs/deploy.md explains the
// context keys (ConfigFromContext).
package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/jsii-runtime-go"
)

func main() {
	defer jsii.Close()
	app := awscdk.NewApp(nil)
	cfg, err := ConfigFromContext(app)
	if err != nil {
		fail(err)
	}
	// Environment-agnostic: the same template from `make synth` and from
	// `cdk deploy`, which deploys it to the profile's account and region.
	s, err := NewStack(app, "berth-"+cfg.Stage, &StackProps{
		StackProps: awscdk.StackProps{Description: jsii.String("Berth container registry (" + cfg.Stage + ")")},
		Config:     cfg,
	})
	if err != nil {
		fail(err)
	}
	app.Synth(nil)
	// `make synth` runs without the CLI, which is what prints warnings:
	// say here which functions are in and which are not built yet.
	var in, missing []string
	for _, f := range functionTable() {
		if _, ok := s.Functions[f.Name]; ok {
			in = append(in, f.Name)
		} else {
			missing = append(missing, f.Name)
		}
	}
	fmt.Fprintf(os.Stderr, "infra: stack %s: functions %s; not built (left out): %s\n",
		*s.StackName(), strings.Join(in, " "), strings.Join(missing, " "))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "infra:", err)
	jsii.Close()
	os.Exit(1)
}
