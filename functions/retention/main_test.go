package main

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/berth-registry/berth/functions/internal/eventtest"
	"github.com/berth-registry/berth/functions/internal/linktest"
	"github.com/berth-registry/berth/shared/app/retentionfn"
	"github.com/berth-registry/berth/shared/store"
)

// TestEvents runs events/retention-*.json through the function's handler
// over a store holding one pushed image (dev/hello:v1), with
// jobs running in the invocation (no AWS_LAMBDA_FUNCTION_NAME).
func TestEvents(t *testing.T) {
	cfg := eventtest.Env(t)
	eventtest.Seed(t, cfg, "uploads-post.json", "uploads-patch.json", "uploads-put.json",
		"uploads-post-monolithic.json", "uploads-post-monolithic-empty.json", "manifests-put.json")
	job := eventtest.Decode[json.RawMessage](t, "retention-job.json")
	var j struct{ RunID string }
	if err := json.Unmarshal(job, &j); err != nil {
		t.Fatal(err)
	}
	stores := eventtest.Stores(t, cfg)
	ret := stores.Meta
	now := time.Now().UTC()
	for _, err := range []error{
		stores.IDs.CreateTenancy(t.Context(), store.Tenancy{Name: "dev", Created: now}),
		ret.PutRetentionPolicy(t.Context(), store.RetentionPolicy{Tenancy: "dev", Name: store.GlobalPolicy, UntaggedDays: 1, Created: now, Changed: now, Version: 1}),
		ret.CreateRun(t.Context(), store.RetentionRun{Tenancy: "dev", ID: j.RunID, Started: now, AsOf: now, DryRun: true, Repositories: 1}),
	} {
		if err != nil {
			t.Fatal(err)
		}
	}
	h, err := retentionfn.New(context.Background())
	if err != nil {
		t.Fatalf("retentionfn.New: %v", err)
	}
	eventtest.CoveredFiles(t, "retention", "retention-scheduled.json", "retention-job.json", "retention-gc.json")

	res, err := h(t.Context(), eventtest.Decode[json.RawMessage](t, "retention-scheduled.json"))
	if err != nil {
		t.Fatalf("scheduled event: %v", err)
	}
	if len(res.Runs) != 1 || res.Runs[0].Tenancy != "dev" || res.Runs[0].Repositories != 1 || res.Runs[0].Trigger != "schedule" {
		t.Errorf("scheduled event started %+v, want one run over dev's one repository", res.Runs)
	}
	if res.Collection == nil || res.Collection.Seen == 0 {
		t.Errorf("scheduled event's collection = %+v, want the new blob records stamped", res.Collection)
	}

	res, err = h(t.Context(), job)
	if err != nil {
		t.Fatalf("job: %v", err)
	}
	if res.Job == nil || res.Job.Repo != "dev/hello" || res.Job.Policy != store.GlobalPolicy || res.Job.Images != 1 || res.Job.Deleted != 0 {
		t.Errorf("job outcome = %+v, want dev/hello's one manifest under the global policy, none deleted", res.Job)
	}

	res, err = h(t.Context(), eventtest.Decode[json.RawMessage](t, "retention-gc.json"))
	if err != nil || res.Collection == nil || res.Collection.Repositories != 1 {
		t.Errorf("gc event: %+v, %v", res.Collection, err)
	}

	if _, err := h(t.Context(), json.RawMessage(`{"source":"aws.events","detail-type":"Object Created"}`)); err == nil {
		t.Errorf("an event the function does not handle was accepted")
	}
}

// TestLinksOnlyWhatItServes: the retention function links retention and
// its dispatcher to Lambda (through shared/awscall), and no registry,
// admin API, HTTP adapter, signing key (KMS), SDK Lambda client, local
// gateway, embedded store or SDK credential chain.
func TestLinksOnlyWhatItServes(t *testing.T) {
	linktest.Check(t, slices.Concat(linktest.Every, linktest.NoKMS, []string{
		"github.com/berth-registry/berth/shared/registry", "github.com/berth-registry/berth/shared/admin",
		"github.com/berth-registry/berth/shared/lambdahttp", "github.com/awslabs/aws-lambda-go-api-proxy",
		"github.com/aws/aws-sdk-go-v2/service/lambda",
	}), []string{"github.com/berth-registry/berth/shared/retention", "github.com/berth-registry/berth/shared/awscall"})
}
