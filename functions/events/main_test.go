package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"
	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/functions/internal/eventtest"
	"github.com/berth-registry/berth/functions/internal/linktest"
	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/authz"
	berthevents "github.com/berth-registry/berth/shared/events"
	"github.com/berth-registry/berth/shared/store"
	"github.com/berth-registry/berth/shared/store/dynamo"
	"github.com/berth-registry/berth/shared/store/dynamo/dynalite"
	"github.com/berth-registry/berth/shared/store/dynamo/streamtest"
)

// bus is an EventBridge endpoint speaking PutEvents (JSON 1.1): it
// keeps the entries it accepts, and refuses the entry at index failAt
// of the next request (-1: none).
type bus struct {
	mu      sync.Mutex
	entries []entry
	failAt  int
}

type entry struct {
	Source, DetailType, Detail, EventBusName string
}

func (b *bus) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Header.Get("X-Amz-Target") != "AWSEvents.PutEvents" {
		http.Error(w, "unexpected "+r.Header.Get("X-Amz-Target"), http.StatusBadRequest)
		return
	}
	body, _ := io.ReadAll(r.Body)
	var in struct{ Entries []entry }
	if err := json.Unmarshal(body, &in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	type result struct {
		EventId      string `json:",omitempty"`
		ErrorCode    string `json:",omitempty"`
		ErrorMessage string `json:",omitempty"`
	}
	var out struct {
		Entries          []result
		FailedEntryCount int
	}
	for i, e := range in.Entries {
		if i >= b.failAt && b.failAt >= 0 {
			out.Entries = append(out.Entries, result{ErrorCode: "ThrottlingException", ErrorMessage: "Rate exceeded"})
			out.FailedEntryCount++
			continue
		}
		b.entries = append(b.entries, e)
		out.Entries = append(out.Entries, result{EventId: "id"})
	}
	b.failAt = -1
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(out)
}

// take returns the events accepted since the last take, checking each
// entry's envelope.
func (b *bus) take(t *testing.T) []berthevents.Event {
	t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []berthevents.Event
	for _, e := range b.entries {
		var ev berthevents.Event
		if err := json.Unmarshal([]byte(e.Detail), &ev); err != nil {
			t.Fatalf("detail %s: %v", e.Detail, err)
		}
		if e.Source != berthevents.Source || e.DetailType != ev.Type || e.EventBusName != "berth-test-bus" {
			t.Errorf("entry source %q, detail-type %q, bus %q; want berth, %s, berth-test-bus", e.Source, e.DetailType, e.EventBusName, ev.Type)
		}
		out = append(out, ev)
	}
	b.entries = nil
	return out
}

func setup(t *testing.T) (streamHandler, *bus) {
	b := &bus{failAt: -1}
	srv := httptest.NewServer(b)
	t.Cleanup(srv.Close)
	eventtest.Env(t)
	for k, v := range map[string]string{
		"AWS_ENDPOINT_URL_EVENTBRIDGE": srv.URL, "AWS_REGION": "us-east-1",
		"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
		"BERTH_EVENT_BUS": "berth-test-bus", "BERTH_LOG_LEVEL": "error",
	} {
		t.Setenv(k, v)
	}
	h, err := handler(t.Context())
	if err != nil {
		t.Fatalf("handler: %v", err)
	}
	return h, b
}

func types(evs []berthevents.Event) string {
	var s []string
	for _, e := range evs {
		s = append(s, e.Type)
	}
	return strings.Join(s, " ")
}

// TestStreamOfRealWrites writes through the DynamoDB store on dynalite,
// takes the stream records the writes make (streamtest), and runs them
// through the handler: the events that rode committed writes reach the
// bus in order, finished (a moved tag's previous digest, a deleted
// tag's digest), and nothing else does. When EventBridge refuses an
// entry, the batch answers the record that carried it as its failure,
// and a retry from that record publishes the rest.
func TestStreamOfRealWrites(t *testing.T) {
	h, b := setup(t)
	base := dynalite.Client(dynalite.Endpoint(t))
	tbl := dynamo.New(base, dynalite.TableName("berth-events"))
	if err := tbl.CreateTable(t.Context()); err != nil {
		t.Fatal(err)
	}
	client, rec := streamtest.Client(base, tbl.Name())
	s := dynamo.New(client, tbl.Name())
	ctx := authz.WithDecision(t.Context(), authz.Decision{Allow: true, Principal: auth.Principal{Tenancy: "dev", User: "admin"}, Via: "basic"})
	now := time.Now()
	a, c := digest.FromString("a"), digest.FromString("b")
	ev := func(typ string, d any) berthevents.Event {
		return berthevents.New(ctx, now, typ, "dev", "dev/hello", d)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	push := func(d digest.Digest) {
		must(s.PutTag(berthevents.With(ctx, ev(berthevents.TagMoved, berthevents.TagMovedData{Tag: "v1", Digest: d}),
			ev(berthevents.ManifestPushed, berthevents.ManifestPushedData{Digest: d, Tags: []string{"v1"}})),
			store.Tag{Repo: "dev/hello", Name: "v1", Digest: d}))
	}
	push(a)
	push(c)
	must(s.PutTag(ctx, store.Tag{Repo: "dev/hello", Name: "v2", Digest: c})) // no event
	must(s.DeleteTag(berthevents.With(ctx, ev(berthevents.TagDeleted, berthevents.TagDeletedData{Tag: "v1"})), "dev/hello", "v1"))
	records := rec.Take()
	if os.Getenv("BERTH_WRITE_EVENTS") == "1" {
		raw, _ := json.MarshalIndent(events.DynamoDBEvent{Records: records}, "", "  ")
		must(os.WriteFile(filepath.Join(eventtest.Dir, "events-stream.json"), append(raw, '\n'), 0o644))
	}

	b.failAt = 1 // the second push's tag.moved
	res, err := h(ctx, events.DynamoDBEvent{Records: records})
	must(err)
	got := b.take(t)
	if types(got) != "manifest.pushed" || len(res.BatchItemFailures) != 1 {
		t.Fatalf("with the third event refused: published %q, failures %+v; want the first push's manifest.pushed and one failure", types(got), res.BatchItemFailures)
	}
	from := -1
	for i, r := range records {
		if r.Change.SequenceNumber == res.BatchItemFailures[0].ItemIdentifier {
			from = i
		}
	}
	if from != 1 {
		t.Fatalf("failure names record %d, want 1 (the second push's tag write)", from)
	}
	res, err = h(ctx, events.DynamoDBEvent{Records: records[from:]})
	must(err)
	got = b.take(t)
	if len(res.BatchItemFailures) != 0 || types(got) != "tag.moved manifest.pushed tag.deleted" {
		t.Fatalf("the retry published %q (failures %+v), want tag.moved manifest.pushed tag.deleted", types(got), res.BatchItemFailures)
	}
	var moved berthevents.TagMovedData
	var deleted berthevents.TagDeletedData
	must(json.Unmarshal(got[0].Data, &moved))
	must(json.Unmarshal(got[2].Data, &deleted))
	if moved.PreviousDigest != a || moved.Digest != c || deleted.Digest != c {
		t.Errorf("moved %+v, deleted %+v: want v1 moved from %s to %s, then deleted at %s", moved, deleted, a, c, c)
	}
	if got[0].Actor.Name != "dev/admin" || got[0].Tenancy != "dev" {
		t.Errorf("actor %+v, tenancy %q", got[0].Actor, got[0].Tenancy)
	}
}

// TestEvents runs events/events-stream.json (a stream batch recorded
// from TestStreamOfRealWrites's writes with BERTH_WRITE_EVENTS=1)
// through the handler.
func TestEvents(t *testing.T) {
	eventtest.CoveredFiles(t, "events", "events-stream.json")
	h, b := setup(t)
	res, err := h(t.Context(), eventtest.Decode[events.DynamoDBEvent](t, "events-stream.json"))
	if err != nil || len(res.BatchItemFailures) != 0 {
		t.Fatalf("events-stream.json: %+v, %v", res, err)
	}
	if got := types(b.take(t)); got != "manifest.pushed tag.moved manifest.pushed tag.deleted" {
		t.Errorf("events-stream.json published %q", got)
	}
}

// TestLinksOnlyWhatItServes: the events function links the table's
// stream records and EventBridge, and no registry, admin API,
// retention, HTTP adapter, S3, signing key (KMS), local gateway,
// embedded store or SDK credential chain.
func TestLinksOnlyWhatItServes(t *testing.T) {
	linktest.Check(t, slices.Concat(linktest.Every, linktest.NoKMS, []string{
		"github.com/berth-registry/berth/shared/registry", "github.com/berth-registry/berth/shared/admin",
		"github.com/berth-registry/berth/shared/retention", "github.com/berth-registry/berth/shared/lambdahttp",
		"github.com/aws/aws-sdk-go-v2/service/s3", "github.com/aws/aws-sdk-go-v2/service/lambda",
	}), []string{"github.com/berth-registry/berth/shared/eventbus", "github.com/aws/aws-sdk-go-v2/service/eventbridge"})
}
