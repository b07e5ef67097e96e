package lambdamode

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// stack is a template in the shape infra/ synthesizes: two functions, a
// CloudFront edge function that is not Berth's, and the resources their
// environments reference.
const stack = `{"Resources": {
  "MetadataTable30E05F1F": {"Type": "AWS::DynamoDB::Table", "Properties": {}},
  "BlobBucketC9B7BD92": {"Type": "AWS::S3::Bucket", "Properties": {}},
  "TokenSigningKeyBF1D9E0A": {"Type": "AWS::KMS::Key", "Properties": {"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}},
  "CacheCredentialsKey6E5C3B1A": {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": true}},
  "TokenFunction0E51A6ED": {"Type": "AWS::Lambda::Function", "Properties": {
    "Description": "Berth token", "Handler": "bootstrap", "MemorySize": 256, "Timeout": 10,
    "Environment": {"Variables": {"BERTH_BACKEND": "aws", "BERTH_TABLE": {"Ref": "MetadataTable30E05F1F"},
      "BERTH_BUCKET": {"Ref": "BlobBucketC9B7BD92"}, "BERTH_SIGNING_KEY_ID": {"Fn::GetAtt": ["TokenSigningKeyBF1D9E0A", "Arn"]}}}}},
  "AdminFunction09BA95C5": {"Type": "AWS::Lambda::Function", "Properties": {
    "Description": "Berth admin", "Handler": "bootstrap", "MemorySize": 512, "Timeout": 29,
    "Environment": {"Variables": {"BERTH_RETENTION_FUNCTION": {"Ref": "RetentionFunctionD325E3AB"},
      "BERTH_CACHE_KEY_ID": {"Fn::GetAtt": ["CacheCredentialsKey6E5C3B1A", "Arn"]}}}}},
  "RetentionFunctionD325E3AB": {"Type": "AWS::Lambda::Function", "Properties": {
    "Description": "Berth retention", "Handler": "bootstrap", "MemorySize": 1024, "Timeout": 900}},
  "EdgeFunction": {"Type": "AWS::Lambda::Function", "Properties": {"Description": "restores WWW-Authenticate", "Handler": "index.handler"}}
}}`

func writeTemplate(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "berth-prod.template.json")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadTemplateResolvesTheStacksReferences(t *testing.T) {
	asked := map[string]int{}
	fns, err := ReadTemplate(writeTemplate(t, stack), Locals{Table: "berth", Bucket: "berth-blobs", KeyARN: func(spec string) (string, error) {
		asked[spec]++
		if spec == "" {
			return "arn:aws:kms:us-east-1:111122223333:key/cache", nil
		}
		return "arn:aws:kms:us-east-1:111122223333:key/local", nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	byName := map[string]Function{}
	for _, f := range fns {
		names = append(names, f.Name)
		byName[f.Name] = f
	}
	if strings.Join(names, " ") != "admin retention token" {
		t.Fatalf("functions %v, want admin retention token (the edge function is not Berth's)", names)
	}
	tok := byName["token"]
	for k, want := range map[string]string{"BERTH_BACKEND": "aws", "BERTH_TABLE": "berth", "BERTH_BUCKET": "berth-blobs",
		"BERTH_SIGNING_KEY_ID": "arn:aws:kms:us-east-1:111122223333:key/local"} {
		if tok.Env[k] != want {
			t.Errorf("token %s = %q, want %q", k, tok.Env[k], want)
		}
	}
	if tok.MemoryMB != 256 || tok.Timeout != 10*time.Second || len(tok.Env) != 4 {
		t.Errorf("token: %d MB, %v, %d variables; want 256 MB, 10s, 4", tok.MemoryMB, tok.Timeout, len(tok.Env))
	}
	if got := byName["admin"].Env["BERTH_RETENTION_FUNCTION"]; got != "retention" {
		t.Errorf("admin's BERTH_RETENTION_FUNCTION = %q, want the function's name, retention", got)
	}
	if got := byName["admin"].Env["BERTH_CACHE_KEY_ID"]; got != "arn:aws:kms:us-east-1:111122223333:key/cache" {
		t.Errorf("admin's BERTH_CACHE_KEY_ID = %q, want the symmetric key's", got)
	}
	if asked["ECC_NIST_P256"] != 1 || asked[""] != 1 {
		t.Errorf("the keys were asked for %v, want each once", asked)
	}
}

func TestReadTemplateRefusesWhatItCannotResolve(t *testing.T) {
	for what, body := range map[string]string{
		"a reference to no resource": strings.Replace(stack, `{"Ref": "BlobBucketC9B7BD92"}`, `{"Ref": "Queue"}`, 1),
		"an attribute of the table":  strings.Replace(stack, `{"Ref": "MetadataTable30E05F1F"}`, `{"Fn::GetAtt": ["MetadataTable30E05F1F", "StreamArn"]}`, 1),
		"a Fn::Join":                 strings.Replace(stack, `"BERTH_BACKEND": "aws"`, `"BERTH_BACKEND": {"Fn::Join": ["", ["a", "ws"]]}`, 1),
	} {
		if _, err := ReadTemplate(writeTemplate(t, body), Locals{Table: "t", Bucket: "b", KeyARN: func(string) (string, error) { return "k", nil }}); err == nil {
			t.Errorf("%s: no error", what)
		}
	}
	keyErr := errors.New("no KMS emulator")
	if _, err := ReadTemplate(writeTemplate(t, stack), Locals{Table: "t", Bucket: "b", KeyARN: func(string) (string, error) { return "", keyErr }}); !errors.Is(err, keyErr) {
		t.Errorf("a key that cannot be made: %v, want its error", err)
	}
}

func TestEnvironmentKeepsLambdasReservedVariables(t *testing.T) {
	o := Options{Dir: "/d", Region: "us-east-1", AccessKeyID: "a", SecretAccessKey: "s", Endpoints: Endpoints{DynamoDB: "http://d", S3: "http://s"}}
	if _, err := environment(Function{Name: "f", Env: map[string]string{"AWS_REGION": "eu-west-1"}}, o, "http://l"); err == nil {
		t.Error("a stack setting AWS_REGION: no error (Lambda reserves it)")
	}
	o.ExtraEnv = map[string]string{"BERTH_TABLE": "other"}
	if _, err := environment(Function{Name: "f", Env: map[string]string{"BERTH_TABLE": "t"}}, o, "http://l"); err == nil {
		t.Error("an extra variable overriding the stack's: no error")
	}
	o.ExtraEnv = nil
	env, err := environment(Function{Name: "f", Env: map[string]string{"BERTH_TABLE": "t"}, MemoryMB: 512, Timeout: 29 * time.Second}, o, "http://l")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"BERTH_TABLE=t", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE=512", "AWS_LAMBDA_FUNCTION_TIMEOUT=29",
		"AWS_ENDPOINT_URL_LAMBDA=http://l", "AWS_ENDPOINT_URL_S3=http://s", "AWS_LAMBDA_FUNCTION_NAME=f"} {
		if !strings.Contains(strings.Join(env, "\n")+"\n", want+"\n") {
			t.Errorf("environment lacks %s: %v", want, env)
		}
	}
	if strings.Contains(strings.Join(env, "\n"), "AWS_ENDPOINT_URL_KMS") {
		t.Errorf("an unset endpoint is in the environment: %v", env)
	}
}

func TestFunctionErrorIsOnlyTheRuntimesErrorDocument(t *testing.T) {
	for doc, isErr := range map[string]bool{
		`{"errorMessage":"boom","errorType":"errorString"}`:                        true,
		`{"errorMessage":"boom","errorType":"Runtime.ExitError","stackTrace":[]}`:  true,
		`{"statusCode":500,"body":"{\"errorType\":\"x\",\"errorMessage\":\"y\"}"}`: false,
		`{"errorMessage":"boom","errorType":"x","isAuthorized":false}`:             false,
		`"errorType"`: false,
	} {
		if got := functionError("f", []byte(doc)) != nil; got != isErr {
			t.Errorf("%s: function error %v, want %v", doc, got, isErr)
		}
	}
}

func TestS3ForClientsNamesTheLoopbackOtherwise(t *testing.T) {
	for _, c := range []struct{ s3, registry, want string }{
		{"http://127.0.0.1:9000", "127.0.0.1:5000", "http://localhost:9000"},
		{"http://localhost:9000", "localhost:5000", "http://127.0.0.1:9000"},
		{"http://127.0.0.1:9000", "localhost:5000", "http://127.0.0.1:9000"},
		{"http://minio.internal:9000", "127.0.0.1:5000", "http://minio.internal:9000"},
	} {
		if got := S3ForClients(c.s3, c.registry); got != c.want {
			t.Errorf("S3ForClients(%s, %s) = %s, want %s", c.s3, c.registry, got, c.want)
		}
	}
}
