package clients

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/iamlogin/ststest"
	"github.com/berth-registry/berth/shared/store"
)

// TestDockerAWSLoginWithTheCredentialHelper is docs/auth.md's AWS IAM
// login with the real docker CLI: a job with a role's credentials (in
// the environment, as CodeBuild gives them) runs berth login --aws, and
// docker, told to use berth as the registry's credential helper
// (docker-credential-berth), pushes and pulls with a login signed
// afresh for each command. STS is a fake that checks each signature.
func TestDockerAWSLoginWithTheCredentialHelper(t *testing.T) {
	need(t, "docker", "busybox")
	t.Parallel()
	sts := ststest.New(t, "eu-west-1", false)
	reg := startAuthRegistry(t, true, func(c *config.Config) { c.STSRegion, c.STSEndpoint = "eu-west-1", sts.URL })
	ctx, ids, now := context.Background(), reg.local.Stores.IDs, time.Now().UTC()
	must(t, ids.PutGroup(ctx, store.Group{Tenancy: tenancy, Name: "ci", Created: now}))
	reg.Allow(t, "ci", "allow group ci to manage repos in tenancy where target.repo.name = /acme/*/")
	must(t, ids.PutRoleMapping(ctx, store.RoleMapping{Tenancy: tenancy, Name: "codebuild",
		Role: "arn:aws:iam::123456789012:role/codebuild-*", Group: "ci", MaxLifetimeSeconds: 300}))

	job := newShell(t)
	bin := job.Path("bin")
	build := exec.Command("go", "build", "-o", filepath.Join(bin, "berth"), "../../cmd/berth")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build berth: %v\n%s", err, out)
	}
	must(t, os.Symlink("berth", filepath.Join(bin, "docker-credential-berth")))
	creds, err := sts.Role("123456789012", "codebuild-acme", "build-1").Retrieve(ctx)
	must(t, err)
	job.env = append(job.env, awsEnv(creds)...)
	job.env = append(job.env, "PATH="+bin+":"+os.Getenv("PATH"), "BERTH_CONFIG="+job.Path("berth.json"))

	if out := job.Run(filepath.Join(bin, "berth"), "login", "--aws", reg.Host, "-u", tenancy); !strings.Contains(out, "as dev/aws") {
		t.Fatalf("berth login --aws printed %q", out)
	}
	must(t, os.MkdirAll(job.Path(".docker"), 0o700))
	must(t, os.WriteFile(job.Path(".docker", "config.json"), []byte(`{"credHelpers": {"`+reg.Host+`": "berth"}}`), 0o600))
	// A signature's X-Amz-Date is to the second, and the registry keeps a
	// verified login until STS would refuse it: a request the helper
	// signed within the login's second is that same request, answered
	// from the cache. Docker starts in the next second, so the helper's
	// own signature has to go to STS.
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))

	const repo = "dev/acme/app"
	ref := reg.Ref(repo, ":1")
	digest := pushBase(t, job, ref)
	reg.AssertImage(t, repo, "1", digest)
	removeLocal(job, ref)
	if out := job.Run("docker", "pull", ref); !strings.Contains(out, digest) {
		t.Errorf("docker pull printed:\n%s\nwant %s", out, digest)
	}
	if n := sts.Calls.Load(); n < 2 {
		t.Errorf("STS was asked %d times, want the login's and docker's", n)
	}

	// Another role's credentials: the helper signs, the registry refuses.
	other, err := sts.Role("123456789012", "deployer", "d-1").Retrieve(ctx)
	must(t, err)
	intruder := job.In(t)
	intruder.env = append(append([]string{}, job.env...), awsEnv(other)...)
	if out := intruder.Fail("docker", "pull", ref); !strings.Contains(out, "no AWS role mapping of tenancy dev names role arn:aws:iam::123456789012:role/deployer") {
		t.Errorf("docker pull as an unmapped role printed:\n%s", out)
	}
}

// awsEnv is the environment the SDK's credential chain reads first,
// with nothing else for it to find.
func awsEnv(c aws.Credentials) []string {
	return []string{"AWS_ACCESS_KEY_ID=" + c.AccessKeyID, "AWS_SECRET_ACCESS_KEY=" + c.SecretAccessKey,
		"AWS_SESSION_TOKEN=" + c.SessionToken, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PROFILE="}
}
