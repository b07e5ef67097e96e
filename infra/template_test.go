package main

import (
	"archive/zip"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-cdk-go/awscdk/v2"
	"github.com/aws/aws-cdk-go/awscdk/v2/assertions"
	"github.com/aws/jsii-runtime-go"
	"github.com/berth-registry/berth/shared/route"
)

// Two stacks are synthesized once and shared by the tests: "core" with
// only the registry functions built and default settings, and "full"
// with every function of functionTable built, a custom domain, a memory
// override and the settings of fullTenancy, fullCooling and
// fullConcurrency, as after the later issues land.
var (
	workDir            string
	synthOnce          sync.Once
	coreTpl, fullTpl   *tpl
	coreStack, fullStk *Stack
	synthErr           error
)

// TestMain skips the whole package on a machine without Node.js, which
// every CDK Go app runs on (jsii), saying so; under CI (CI=true) a
// missing node is a failure instead, so CI cannot pass by skipping.
func TestMain(m *testing.M) {
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") == "true" {
			fmt.Fprintln(os.Stderr, "infra: FAIL: node is not on PATH; CI must install Node.js 20+ to run the CDK tests")
			os.Exit(1)
		}
		fmt.Fprintln(os.Stderr, "infra: SKIP: node is not on PATH; the CDK tests need Node.js 20+ (jsii)")
		os.Exit(0)
	}
	os.Setenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "1")
	os.Setenv("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
	dir, err := os.MkdirTemp("", "berth-infra-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	workDir = dir
	code := m.Run()
	jsii.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

// placeholderDist writes a zip holding a stand-in bootstrap for each name.
func placeholderDist(t *testing.T, names ...string) string {
	t.Helper()
	dir, err := os.MkdirTemp(workDir, "dist-")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		f, err := os.Create(zipPath(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		zw := zip.NewWriter(f)
		w, err := zw.Create("bootstrap")
		if err == nil {
			_, err = w.Write([]byte("#!/bin/sh\necho " + n + "\n"))
		}
		if err == nil {
			err = zw.Close()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// coreFunctions are the functions every stack deploys: the registry's
// and the pull-through cache's fill function.
func coreFunctions() []string {
	return append(slices.Clone(route.RegistryFunctions), fnFill)
}

func allFunctionNames() []string {
	var out []string
	for _, f := range functionTable() {
		out = append(out, f.Name)
	}
	return out
}

const testDomain = "registry.example.com"

// The full stack's non-default settings.
const (
	fullTenancy       = "acme"
	fullCooling       = "12h"
	fullConcurrency   = 25
	fullWebhook       = "https://hooks.example.com/berth"
	fullWebhookSecret = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:berth-webhook-AbCdEf"
	fullAlarmTopic    = "arn:aws:sns:eu-west-1:123456789012:berth-alarms"
)

// coreRoutes are the route table's routes served by registry functions.
func coreRoutes() []route.Route {
	var out []route.Route
	for _, r := range route.Table() {
		if slices.Contains(route.RegistryFunctions, r.Function) {
			out = append(out, r)
		}
	}
	return out
}

// synthesize builds and synthesizes a stack into its own cloud assembly.
func synthesize(t *testing.T, cfg Config) (*Stack, *tpl, error) {
	out, err := os.MkdirTemp(workDir, "cdk.out-")
	if err != nil {
		return nil, nil, err
	}
	app := awscdk.NewApp(&awscdk.AppProps{Outdir: jsii.String(out)})
	s, err := NewStack(app, "berth-test", &StackProps{Config: cfg})
	if err != nil {
		return nil, nil, err
	}
	return s, newTpl(assertions.Template_FromStack(s.Stack, nil)), nil
}

// stacks returns the two shared stacks, synthesizing them on first use.
func stacks(t *testing.T) (core, full *tpl) {
	t.Helper()
	synthOnce.Do(func() {
		cfg := DefaultConfig()
		cfg.DistDir = placeholderDist(t, coreFunctions()...)
		if coreStack, coreTpl, synthErr = synthesize(t, cfg); synthErr != nil {
			return
		}
		cfg = DefaultConfig()
		cfg.DistDir = placeholderDist(t, allFunctionNames()...)
		cfg.DomainName, cfg.CertificateArn = testDomain, "arn:aws:acm:eu-west-1:123456789012:certificate/abc"
		cfg.Memory = map[string]float64{route.Uploads: 2048}
		cfg.Tenancy, cfg.RetentionCooling, cfg.RetentionConcurrency = fullTenancy, fullCooling, fullConcurrency
		cfg.WebhookURL, cfg.WebhookSecretArn, cfg.AlarmTopicArn = fullWebhook, fullWebhookSecret, fullAlarmTopic
		fullStk, fullTpl, synthErr = synthesize(t, cfg)
	})
	if synthErr != nil {
		t.Fatalf("synth: %v", synthErr)
	}
	return coreTpl, fullTpl
}

// tpl is a synthesized template as plain JSON values.
type tpl struct {
	raw       assertions.Template
	Resources map[string]resource
	Outputs   map[string]map[string]any
}

type resource struct {
	Type                string
	Properties          map[string]any
	DeletionPolicy      string
	UpdateReplacePolicy string
}

func newTpl(t assertions.Template) *tpl {
	b, err := json.Marshal(t.ToJSON())
	if err != nil {
		panic(err)
	}
	var out tpl
	if err := json.Unmarshal(b, &out); err != nil {
		panic(err)
	}
	out.raw = t
	return &out
}

// ofType returns the logical ids of resources of a type, sorted.
func (t *tpl) ofType(typ string) []string {
	var ids []string
	for id, r := range t.Resources {
		if r.Type == typ {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

// one returns the only resource of a type.
func (t *tpl) one(tt *testing.T, typ string) (string, resource) {
	tt.Helper()
	ids := t.ofType(typ)
	if len(ids) != 1 {
		tt.Fatalf("%d resources of type %s, want 1", len(ids), typ)
	}
	return ids[0], t.Resources[ids[0]]
}

// labels names the template's resources for render: "table", "bucket",
// "key", "fn:<name>", "role:<name>", "logs:<name>".
func (t *tpl) labels() map[string]string {
	l := map[string]string{}
	for id, r := range t.Resources {
		switch r.Type {
		case "AWS::DynamoDB::Table":
			l[id] = "table"
		case "AWS::S3::Bucket":
			l[id] = "bucket"
		case "AWS::KMS::Key":
			// The token-signing key, and the symmetric one that seals
			// pull-through credentials.
			l[id] = "key"
			if r.Properties["KeySpec"] == nil {
				l[id] = "cachekey"
			}
		case "AWS::Events::EventBus":
			l[id] = "bus"
		case "AWS::SQS::Queue":
			l[id] = "queue:" + id[:max(len(id)-8, 0)] // logical ids end in an 8-character hash
		case "AWS::Lambda::Function":
			name := strings.TrimPrefix(fmt.Sprint(r.Properties["Description"]), "Berth ")
			l[id] = "fn:" + name
			if lg, ok := path(r.Properties, "LoggingConfig", "LogGroup", "Ref").(string); ok {
				l[lg] = "logs:" + name
			}
			if role, ok := path(r.Properties, "Role", "Fn::GetAtt", 0).(string); ok {
				l[role] = "role:" + name
			}
		}
	}
	return l
}

// functions maps function names to their logical ids.
func (t *tpl) functions() map[string]string {
	out := map[string]string{}
	for id, label := range t.labels() {
		if name, ok := strings.CutPrefix(label, "fn:"); ok {
			out[name] = id
		}
	}
	return out
}

// path digs into nested JSON: keys for maps, ints for slices.
func path(v any, keys ...any) any {
	for _, k := range keys {
		switch k := k.(type) {
		case string:
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			s, ok := v.([]any)
			if !ok || k >= len(s) {
				return nil
			}
			v = s[k]
		}
	}
	return v
}

// render writes a CloudFormation value as text, naming the resources it
// references by label (logical id → label), so "arn of the bucket +
// /blobs/*" reads "bucket/blobs/*".
func render(v any, labels map[string]string) string {
	name := func(id string) string {
		if l, ok := labels[id]; ok {
			return l
		}
		return id
	}
	switch v := v.(type) {
	case string:
		return v
	case []any:
		parts := make([]string, len(v))
		for i, p := range v {
			parts[i] = render(p, labels)
		}
		return "[" + strings.Join(parts, " ") + "]"
	case map[string]any:
		if ref, ok := v["Ref"].(string); ok {
			return name(ref)
		}
		if ga, ok := v["Fn::GetAtt"].([]any); ok && len(ga) == 2 {
			return name(fmt.Sprint(ga[0]))
		}
		if j, ok := v["Fn::Join"].([]any); ok && len(j) == 2 {
			parts, _ := j[1].([]any)
			var b strings.Builder
			for i, p := range parts {
				if i > 0 {
					b.WriteString(fmt.Sprint(j[0]))
				}
				b.WriteString(render(p, labels))
			}
			return b.String()
		}
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// statements returns every (effect, action, resource) of a policy document.
func statements(doc any, labels map[string]string) []stmt {
	var out []stmt
	list, _ := path(doc, "Statement").([]any)
	for _, st := range list {
		effect, _ := path(st, "Effect").(string)
		for _, a := range asList(path(st, "Action")) {
			for _, r := range asList(path(st, "Resource")) {
				out = append(out, stmt{effect, fmt.Sprint(a), render(r, labels)})
			}
		}
	}
	return out
}

type stmt struct{ Effect, Action, Resource string }

func asList(v any) []any {
	if l, ok := v.([]any); ok {
		return l
	}
	if v == nil {
		return []any{"<none>"}
	}
	return []any{v}
}

// regexpMatch returns the first group of re in s, failing the test if s
// does not match.
func regexpMatch(t *testing.T, s, re string) string {
	t.Helper()
	m := regexp.MustCompile(re).FindStringSubmatch(s)
	if m == nil {
		t.Fatalf("%q does not match %s", s, re)
	}
	return m[1]
}
