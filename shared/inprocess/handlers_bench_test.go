package inprocess_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/berth-registry/berth/integration/harness"
	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/app/authfn"
	"github.com/berth-registry/berth/shared/app/registryfn"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/gateway"
	"github.com/berth-registry/berth/shared/inprocess"
	"github.com/berth-registry/berth/shared/lambdahttp"
	"github.com/berth-registry/berth/shared/route"
)

// eventsDir holds the real API Gateway events (events/README.md).
const eventsDir = "../../events"

// eventsAdminToken is the auth token of dev/admin that the events'
// Basic credentials carry; eventsUploadID the upload id they name.
const (
	eventsAdminToken = "bt_eventsadmin23456_abcdefghijklmnopqrstuvwxyz234567"
	eventsUploadID   = "7e2d0f5c9a4b4c1e8d3f6a2b1c0e9d8f"
)

// BenchmarkFunctionHandlers times each function's Lambda handler, warm,
// with real events (events/*.json) given as Lambda gives them: JSON in,
// JSON out, through the handler each function's main builds
// (registryfn, authfn), logging its one line per request as on Lambda.
// The store is the embedded one, so what is timed is the function's own
// work: on AWS each DynamoDB or S3 request it makes adds its round trip
// (docs/cost.md counts them). Besides ns/op it reports cpu-ns/op, the
// process's CPU time per invocation (user + system).
//
//	go test -run '^$' -bench FunctionHandlers -benchtime 2000x ./shared/inprocess/
func BenchmarkFunctionHandlers(b *testing.B) {
	for _, backend := range []string{"embedded", "aws"} {
		b.Run(backend, func(b *testing.B) { benchmarkHandlers(b, backend) })
	}
}

// benchmarkHandlers times the handlers on one backend. On the aws
// backend (dynalite, which runs in a process of its own, and gofakes3,
// which runs in this one and so adds its own CPU to an upload's), the
// CPU time includes what the SDK spends building, signing and reading
// each request, as on Lambda; the wall time is the emulators'.
func benchmarkHandlers(b *testing.B, backend string) {
	f := newFunctions(b, backend)
	bearer := f.bearer(b)
	chunk := make([]byte, 1<<20)
	_, _ = rand.Read(chunk)
	chunkDigest := fmt.Sprintf("sha256:%x", sha256.Sum256(chunk))
	var commits uint64
	type step struct {
		fn      string
		payload func() []byte
		status  int
	}
	cases := []struct {
		name  string
		setup func() // untimed, before each invocation
		step
	}{
		{name: "authorizer, Bearer token", step: step{route.Authorizer, func() []byte {
			return f.authorizerEvent(b, "authorizer-manifests-get-anonymous.json", bearer)
		}, 0}},
		{name: "authorizer, Basic auth token (cached)", step: step{route.Authorizer, func() []byte {
			return f.raw(b, "authorizer-manifests-put-basic.json", "")
		}, 0}},
		{name: "token, GET with Basic", step: step{route.Token, func() []byte { return f.raw(b, "token-get-scope.json", "") }, 200}},
		{name: "base, GET /v2/", step: step{route.Base, func() []byte { return f.raw(b, "base-get.json", "") }, 200}},
		{name: "manifests, HEAD by tag", step: step{route.Manifests, func() []byte { return f.raw(b, "manifests-head.json", "") }, 200}},
		{name: "manifests, GET by tag", step: step{route.Manifests, func() []byte { return f.raw(b, "manifests-get.json", "") }, 200}},
		{name: "manifests, PUT by tag", step: step{route.Manifests, func() []byte { return f.raw(b, "manifests-put.json", "") }, 201}},
		{name: "blobs, HEAD", step: step{route.Blobs, func() []byte { return f.raw(b, "blobs-head.json", "") }, 200}},
		{name: "blobs, GET (307)", step: step{route.Blobs, func() []byte { return f.raw(b, "blobs-get.json", "") }, 307}},
		{name: "tags, list", step: step{route.Tags, func() []byte { return f.raw(b, "tags-list.json", "") }, 200}},
		{name: "uploads, POST", step: step{route.Uploads, func() []byte { return f.raw(b, "uploads-post.json", "") }, 202}},
		{name: "uploads, PATCH 1 MiB", setup: func() { f.startUpload(b) }, step: step{route.Uploads, func() []byte {
			return f.withBody(b, "uploads-patch.json", chunk, "0-"+strconv.Itoa(len(chunk)-1), "")
		}, 202}},
		{name: "uploads, PUT commit", setup: func() {
			// New bytes each time: a commit of a digest recorded before
			// takes the longer path that checks the recorded object.
			commits++
			binary.BigEndian.PutUint64(chunk, commits)
			chunkDigest = fmt.Sprintf("sha256:%x", sha256.Sum256(chunk))
			f.startUpload(b)
			f.invoke(b, route.Uploads, f.withBody(b, "uploads-patch.json", chunk, "0-"+strconv.Itoa(len(chunk)-1), ""), 202)
		}, step: step{route.Uploads, func() []byte {
			return f.withBody(b, "uploads-put.json", nil, "", "digest="+chunkDigest)
		}, 201}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var cpu time.Duration
			for range b.N {
				if c.setup != nil {
					b.StopTimer()
					c.setup()
					b.StartTimer()
				}
				b.StopTimer()
				p := c.payload()
				b.StartTimer()
				c0 := cpuTime(b)
				f.invoke(b, c.fn, p, c.status)
				cpu += cpuTime(b) - c0
			}
			b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// functions are the functions' Lambda handlers over one embedded store.
type functions struct {
	handlers map[string]gateway.Invoker
	uploadID string
}

func newFunctions(b *testing.B, backend string) *functions {
	ctx := context.Background()
	cfg := config.Config{Backend: "embedded", Data: b.TempDir(), Limits: true, Auth: true, Service: "berth", Tenancy: "dev",
		TokenTTL: config.MaxTokenTTL, PresignTTL: 15 * time.Minute, AdminToken: eventsAdminToken, LogLevel: "info"}
	if backend == "aws" {
		cfg = harness.OnAWS(b, cfg)
	}
	// A JSON line per request, as on Lambda (formatted, then dropped).
	env := app.NewEnv(cfg, slog.New(slog.NewJSONHandler(io.Discard, nil)))
	stores, err := inprocess.Open(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { stores.Close() })
	env.UseClock(stores)
	a, err := authfn.New(ctx, env, authfn.Stores{IDs: stores.IDs, Repos: stores.Meta})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := app.Bootstrap(ctx, cfg, stores.IDs); err != nil {
		b.Fatal(err)
	}
	reg := registryfn.Registry(env, stores, a.Authorizer, nil)
	// Each HTTP function is invoked through lambdahttp's Invoke, the
	// lambda.Handler its bootstrap's lambda.Start runs: JSON in, JSON out.
	f := &functions{handlers: map[string]gateway.Invoker{
		route.Authorizer: gateway.AuthorizerFunc(authfn.AuthorizerHandler(env, a.Authorizer)),
		route.Token:      lambdahttp.Handler(a.Tokens, env.Log),
	}}
	for _, fn := range route.RegistryFunctions {
		f.handlers[fn] = lambdahttp.Handler(registryfn.Handler(env, reg, fn), env.Log)
	}
	// The image the events push (events/README.md).
	for _, file := range []string{"uploads-post.json", "uploads-patch.json", "uploads-put.json",
		"uploads-post-monolithic.json", "uploads-post-monolithic-empty.json", "manifests-put.json"} {
		f.invoke(b, functionOf(b, file), f.raw(b, file, ""), 0)
	}
	return f
}

// read reads an event file, with the upload id of the session last
// started in place of the one the events name.
func (f *functions) read(b *testing.B, file string) []byte {
	raw, err := os.ReadFile(filepath.Join(eventsDir, file))
	if err != nil {
		b.Fatal(err)
	}
	if f.uploadID != "" {
		raw = []byte(strings.ReplaceAll(string(raw), eventsUploadID, f.uploadID))
	}
	return raw
}

// raw is an event as its file holds it (the upload id aside), with
// authorization as its Authorization header when set.
func (f *functions) raw(b *testing.B, file, authorization string) []byte {
	if authorization == "" {
		return f.read(b, file)
	}
	var ev events.APIGatewayV2CustomAuthorizerV2Request
	if err := json.Unmarshal(f.read(b, file), &ev); err != nil {
		b.Fatal(err)
	}
	ev.Headers["authorization"] = authorization
	out, err := json.Marshal(ev)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// authorizerEvent is an authorizer event carrying authorization.
func (f *functions) authorizerEvent(b *testing.B, file, authorization string) []byte {
	return f.raw(b, file, authorization)
}

// withBody is an HTTP event with body as its (base64) body, its
// Content-Range (none when empty) and, when set, its query string.
func (f *functions) withBody(b *testing.B, file string, body []byte, contentRange, query string) []byte {
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(f.read(b, file), &ev); err != nil {
		b.Fatal(err)
	}
	ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(body), true
	ev.Headers["content-length"] = strconv.Itoa(len(body))
	delete(ev.Headers, "content-range")
	if contentRange != "" {
		ev.Headers["content-range"] = contentRange
	}
	if query != "" {
		ev.RawQueryString = query
		ev.QueryStringParameters = map[string]string{}
		for _, kv := range strings.Split(query, "&") {
			k, v, _ := strings.Cut(kv, "=")
			ev.QueryStringParameters[k] = v
		}
	}
	out, err := json.Marshal(ev)
	if err != nil {
		b.Fatal(err)
	}
	return out
}

// functionOf is the function an HTTP event's route key names.
func functionOf(b *testing.B, file string) string {
	raw, err := os.ReadFile(filepath.Join(eventsDir, file))
	if err != nil {
		b.Fatal(err)
	}
	var ev events.APIGatewayV2HTTPRequest
	if err := json.Unmarshal(raw, &ev); err != nil {
		b.Fatal(err)
	}
	m, ok := route.FromKey(ev.RouteKey, nil)
	if !ok {
		b.Fatalf("%s: route key %q is not in the table", file, ev.RouteKey)
	}
	return m.Route.Function
}

// invoke runs a payload through a function as Lambda does, JSON in and
// out, and checks the outcome: an HTTP function's status (any success
// when want is 0, and then it notes a new upload session), the
// authorizer's allowing decision.
func (f *functions) invoke(b *testing.B, fn string, payload []byte, want int) []byte {
	out, err := f.handlers[fn].Invoke(context.Background(), payload)
	if err != nil {
		b.Fatalf("%s: %v", fn, err)
	}
	if fn == route.Authorizer {
		var res events.APIGatewayV2CustomAuthorizerSimpleResponse
		if err := json.Unmarshal(out, &res); err != nil || res.Context["allow"] != true {
			b.Fatalf("authorizer: %s (%v)", out, err)
		}
		return out
	}
	var res events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(out, &res); err != nil {
		b.Fatal(err)
	}
	if (want == 0 && res.StatusCode >= 300) || (want != 0 && res.StatusCode != want) {
		b.Fatalf("%s: status %d %.300s, want %d", fn, res.StatusCode, res.Body, want)
	}
	for k, v := range res.Headers {
		if strings.EqualFold(k, "Docker-Upload-UUID") && res.StatusCode == http.StatusAccepted {
			f.uploadID = v
		}
	}
	return out
}

// startUpload starts an upload session; the upload events then name it.
func (f *functions) startUpload(b *testing.B) {
	f.invoke(b, route.Uploads, f.raw(b, "uploads-post.json", ""), http.StatusAccepted)
}

// bearer is the Authorization header docker sends after `docker login`:
// a registry token the token function issued for dev/hello.
func (f *functions) bearer(b *testing.B) string {
	var res events.APIGatewayV2HTTPResponse
	if err := json.Unmarshal(f.invoke(b, route.Token, f.raw(b, "token-get-scope.json", ""), http.StatusOK), &res); err != nil {
		b.Fatal(err)
	}
	var body struct {
		Token string `json:"token"`
	}
	if err := json.Unmarshal([]byte(res.Body), &body); err != nil || body.Token == "" {
		b.Fatalf("token: %s (%v)", res.Body, err)
	}
	return "Bearer " + body.Token
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
