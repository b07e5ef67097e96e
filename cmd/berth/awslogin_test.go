package main

import (
	"context"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/berth-registry/berth/integration/harness"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/iamlogin"
	"github.com/berth-registry/berth/shared/iamlogin/ststest"
)

// TestCLIAWSLogin: an administrator maps a role with berth aws-roles
// put; a job acting as the role runs berth login --aws, which saves no
// secret; berth aws-token and docker's credential helper then hand out
// fresh logins that /token accepts.
func TestCLIAWSLogin(t *testing.T) {
	sts := ststest.New(t, "eu-west-1", false)
	cfg := config.Config{Backend: "embedded", Data: t.TempDir(), Auth: true, Service: "berth", TokenTTL: 5 * time.Minute,
		PresignTTL: 15 * time.Minute, Tenancy: "dev", LogLevel: "error", OIDCLoopback: true,
		STSRegion: "eu-west-1", STSEndpoint: sts.URL}
	host, l := harness.Start(t, cfg)
	url := "http://" + host

	admin := newTerm(t)
	if err := admin.login(url, "dev/admin", l.AdminToken); err != nil {
		t.Fatal(err)
	}
	admin.must("groups", "create", "ci")
	admin.must("policies", "put", "ci", "--statement", "allow group ci to use repos in tenancy where target.repo.name = /app*/")
	admin.fails("account cannot be a pattern", "aws-roles", "put", "ci", "--role", "arn:aws:iam::*:role/ci", "--group", "ci")
	out := admin.must("aws-roles", "put", "ci", "--role", "arn:aws:iam::123456789012:role/ci-*", "--group", "ci", "--max-lifetime", "2m")
	if !strings.Contains(out, "logs in as dev/aws acting as group ci") {
		t.Errorf("put printed %q", out)
	}
	if out := admin.must("aws-roles", "list"); !strings.Contains(out, "arn:aws:iam::123456789012:role/ci-*") || !strings.Contains(out, "2m0s") {
		t.Errorf("list printed %q", out)
	}
	if out := admin.must("aws-roles", "get", "ci"); !strings.Contains(out, "login:         dev/aws") {
		t.Errorf("get printed %q", out)
	}

	creds := sts.Role("123456789012", "ci-builder", "job-1")
	defer func(old func(context.Context) (aws.CredentialsProvider, error)) { awsCredentials = old }(awsCredentials)
	awsCredentials = func(context.Context) (aws.CredentialsProvider, error) { return creds, nil }

	job := newTerm(t)
	job.fails("needs -u <tenancy>", "login", "--aws", url)
	if out := job.must("login", "--aws", url, "-u", "dev"); !strings.Contains(out, "as dev/aws with AWS credentials") {
		t.Errorf("login printed %q", out)
	}
	saved, err := os.ReadFile(job.config)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(saved), iamlogin.Prefix) || !strings.Contains(string(saved), `"stsEndpoint": "`+sts.URL+`"`) {
		t.Fatalf("the saved login holds a secret, or not the endpoint: %s", saved)
	}
	tok := strings.TrimSpace(job.must("aws-token"))
	if status, actions := dockerToken(t, url, "dev/aws", tok, "repository:dev/app:pull,push"); status != 200 || !slices.Equal(actions, []string{"pull", "push"}) {
		t.Fatalf("the printed token at /token: %d %v, want 200 pull,push", status, actions)
	}

	out, err = job.run(host+"\n", "credential-helper", "get")
	if err != nil {
		t.Fatalf("credential-helper get: %v", err)
	}
	var cred struct{ ServerURL, Username, Secret string }
	if err := json.Unmarshal([]byte(out), &cred); err != nil || cred.Username != "dev/aws" || !iamlogin.IsToken(cred.Secret) || cred.ServerURL != host {
		t.Fatalf("credential-helper get printed %q", out)
	}
	if status, _ := dockerToken(t, url, cred.Username, cred.Secret, "repository:dev/app:pull"); status != 200 {
		t.Fatalf("the helper's secret at /token: %d", status)
	}
	if out, err := job.run("other.example.com\n", "credential-helper", "get"); err == nil || strings.TrimSpace(out) != "credentials not found in native keychain" {
		t.Fatalf("credential-helper get for another host: %q, %v", out, err)
	}

	// A role the tenancy does not map cannot log in.
	creds = sts.Role("123456789012", "deployer", "job-2")
	other := newTerm(t)
	other.fails("no AWS role mapping of tenancy dev names role arn:aws:iam::123456789012:role/deployer", "login", "--aws", url, "-u", "dev")
}
