// Package eventtest runs the API Gateway events in events/ through a
// function's Lambda handler, as Lambda would, and checks the responses.
// Every functions/<name>/main_test.go uses it; it is imported by tests
// only.
//
// A function served over the HTTP API (payload format 2.0) — the registry
// functions, and token and admin alike — tests its events with a table of
// [Case] values (token-get.json stands for whatever events token adds):
//
//	func TestEvents(t *testing.T) {
//		cases := []eventtest.Case{
//			{File: "token-get.json", Status: 200, Headers: map[string]string{"Content-Type": "application/json"}},
//		}
//		eventtest.Covered(t, route.Token, cases)
//		eventtest.Env(t)
//		eventtest.Run(t, eventtest.Function(t, route.Token), cases)
//	}
//
// [Env] sets the environment the stack gives a function (the aws
// backend, against emulators); [Function] builds the handler with the
// constructor the function's main calls; a function that needs more
// settings sets them with t.Setenv before calling it. [Seed] fills the
// store with content first, by pushing events through the registry.
//
// A function whose events are not HTTP requests (the authorizer's are
// events.APIGatewayV2CustomAuthorizerV2Request) reads them with [Decode],
// builds its handler after [Env] (authfn.Authorizer), checks the
// responses itself, and proves every events/<name>-*.json is run with
// [CoveredFiles].
package eventtest

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/berth-registry/berth/shared/lambdahttp"
)

// Dir holds the events the functions are tested with, relative to a
// functions/<name> package, where its tests run.
const Dir = "../../events"

// UploadID is the upload session id the upload events carry; [Run] and
// [Seed] put the id of the session the last POST started in its place,
// since a real session id is random.
const UploadID = "7e2d0f5c9a4b4c1e8d3f6a2b1c0e9d8f"

// Case is one event file and the response it must produce.
type Case struct {
	File    string            // the event, a file name in [Dir]
	Status  int               // the response's status code
	Code    string            // spec error code of the JSON body, when set
	Headers map[string]string // exact values; a trailing * matches a prefix
	Body    string            // exact body, when set
	Empty   bool              // the body must be empty
	// Check, when set, makes further checks on the response and its
	// decoded body.
	Check func(t *testing.T, res events.APIGatewayV2HTTPResponse, body []byte)
}

// Decode reads an event file from [Dir] into an event of type E.
func Decode[E any](t testing.TB, file string) E {
	t.Helper()
	return decode[E](t, file, "")
}

// Load reads an HTTP API event file from [Dir], putting id, when set, in
// place of [UploadID].
func Load(t testing.TB, file, id string) events.APIGatewayV2HTTPRequest {
	t.Helper()
	return decode[events.APIGatewayV2HTTPRequest](t, file, id)
}

func decode[E any](t testing.TB, file, id string) E {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(Dir, file))
	if err != nil {
		t.Fatal(err)
	}
	if id != "" {
		b = []byte(strings.ReplaceAll(string(b), UploadID, id))
	}
	var ev E
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return ev
}

// Body is the request body an event file carries, base64-decoded when
// the gateway encoded it.
func Body(t testing.TB, file string) []byte {
	t.Helper()
	ev := Load(t, file, "")
	if !ev.IsBase64Encoded {
		return []byte(ev.Body)
	}
	b, err := base64.StdEncoding.DecodeString(ev.Body)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return b
}

// Run sends each case's event through h, in order, and checks the
// response in a subtest named after the file. A 202 carrying
// Docker-Upload-UUID makes later events use that session id.
func Run(t *testing.T, h lambdahttp.HandlerFunc, cases []Case) {
	t.Helper()
	id := ""
	for _, c := range cases {
		res, err := h(context.Background(), Load(t, c.File, id))
		if err != nil {
			t.Fatalf("%s: %v", c.File, err)
		}
		if u := Header(res, "Docker-Upload-UUID"); u != "" && res.StatusCode == 202 {
			id = u
		}
		t.Run(c.File, func(t *testing.T) { c.verify(t, res) })
	}
}

func (c Case) verify(t *testing.T, res events.APIGatewayV2HTTPResponse) {
	body := []byte(res.Body)
	if res.IsBase64Encoded {
		var err error
		if body, err = base64.StdEncoding.DecodeString(res.Body); err != nil {
			t.Fatalf("body is not base64: %v", err)
		}
	}
	if res.StatusCode != c.Status {
		t.Fatalf("status %d, want %d; body %s", res.StatusCode, c.Status, body)
	}
	for k, want := range c.Headers {
		got := Header(res, k)
		if p, ok := strings.CutSuffix(want, "*"); (ok && !strings.HasPrefix(got, p)) || (!ok && got != want) {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if c.Code != "" {
		var e struct{ Errors []struct{ Code string } }
		if err := json.Unmarshal(body, &e); err != nil || len(e.Errors) == 0 || e.Errors[0].Code != c.Code {
			t.Errorf("body %s, want error code %s", body, c.Code)
		}
	}
	if c.Body != "" && string(body) != c.Body {
		t.Errorf("body %s, want %s", body, c.Body)
	}
	if c.Empty && len(body) > 0 {
		t.Errorf("body %q, want none", body)
	}
	if c.Check != nil {
		c.Check(t, res, body)
	}
}

// Header returns a response header, matching its name as HTTP does.
func Header(res events.APIGatewayV2HTTPResponse, name string) string {
	for k, v := range res.Headers {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return ""
}

// Covered fails t unless every events/<function>-*.json is the file of
// one of the cases.
func Covered(t testing.TB, function string, cases ...[]Case) {
	t.Helper()
	var files []string
	for _, cs := range cases {
		for _, c := range cs {
			files = append(files, c.File)
		}
	}
	CoveredFiles(t, function, files...)
}

// CoveredFiles fails t if there is no events/<function>-*.json, or one
// that is not among files.
func CoveredFiles(t testing.TB, function string, files ...string) {
	t.Helper()
	all, err := filepath.Glob(filepath.Join(Dir, function+"-*.json"))
	if err != nil || len(all) == 0 {
		t.Fatalf("no events/%s-*.json (%v)", function, err)
	}
	has := map[string]bool{}
	for _, f := range files {
		has[f] = true
	}
	for _, f := range all {
		if !has[filepath.Base(f)] {
			t.Errorf("%s is not run through the function", filepath.Base(f))
		}
	}
}
