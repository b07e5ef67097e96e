package lambdahttp_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-lambda-go/lambda"

	"github.com/berth-registry/berth/shared/lambdahttp"
)

// echo answers with what it saw of the request: method, path, query,
// headers, and the body's length and hash.
var echo = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	sum := sha256.Sum256(b)
	var hs []string
	for k, v := range r.Header {
		hs = append(hs, k+"="+strings.Join(v, ","))
	}
	sort.Strings(hs)
	w.Header().Set("Content-Type", "text/plain")
	io.WriteString(w, r.Method+" "+r.URL.String()+"\n"+strings.Join(hs, "\n")+"\n"+hex.EncodeToString(sum[:])+" <html>&")
})

// both invokes payload through the adapter's own Invoke and through
// aws-lambda-go's reflecting handler around the same function, as the
// runtime would without Invoke.
func both(payload []byte) (mine, lib []byte, mineErr, libErr error) {
	h := lambdahttp.Handler(echo, quiet)
	mine, mineErr = h.Invoke(context.Background(), payload)
	lib, libErr = lambda.NewHandler(func(ctx context.Context, ev eventV2) (any, error) { return h(ctx, ev) }).Invoke(context.Background(), payload)
	return
}

func checkSame(t *testing.T, name string, payload []byte) {
	t.Helper()
	mine, lib, mineErr, libErr := both(payload)
	if (mineErr == nil) != (libErr == nil) {
		t.Fatalf("%s: Invoke error %v, aws-lambda-go's %v", name, mineErr, libErr)
	}
	if !bytes.Equal(mine, lib) {
		t.Fatalf("%s: responses differ:\n%s\n%s", name, mine, lib)
	}
}

// payloads are events as the Lambda service sends them (the events/
// files), with bodies and keys that the fast path must take or refuse
// exactly as encoding/json decodes them.
func payloads(t testing.TB) map[string][]byte {
	files, err := filepath.Glob("../../events/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no events: %v", err)
	}
	out := map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var probe map[string]any
		if json.Unmarshal(b, &probe) != nil || probe["rawPath"] == nil {
			continue // not an HTTP event (authorizer, stream, job)
		}
		out[filepath.Base(f)] = b
	}
	layer := make([]byte, 3<<20+1)
	for i := range layer {
		layer[i] = byte(i*7 + i>>11)
	}
	b64 := base64.StdEncoding.EncodeToString(layer)
	base := `"version":"2.0","routeKey":"PATCH /v2/{name+}","rawPath":"/v2/a/blobs/uploads/1","rawQueryString":"x=1","requestContext":{"http":{"method":"PATCH","path":"/v2/a/blobs/uploads/1"},"requestId":"r"}`
	for name, p := range map[string]string{
		"base64 layer":                       `{` + base + `,"headers":{"content-type":"application/octet-stream"},"body":"` + b64 + `","isBase64Encoded":true}`,
		"body first":                         `{"body":"aGVsbG8=","isBase64Encoded":true,` + base + `}`,
		"a header named body":                `{` + base + `,"headers":{"body":"not the body","x":"\"body\":\"zz\""},"body":"aGVsbG8=","isBase64Encoded":true}`,
		"Body in another case":               `{` + base + `,"Body":"d29ybGQ=","body":"aGVsbG8=","isBase64Encoded":true}`,
		"an escaped key":                     `{` + base + `,"b\u006fdy":"aGVsbG8=","isBase64Encoded":true}`,
		"two bodies":                         `{` + base + `,"body":"aGVsbG8=","body":"d29ybGQ=","isBase64Encoded":true}`,
		"escaped slash":                      `{` + base + `,"body":"aGV\/sbG8=","isBase64Encoded":true}`,
		"a line break":                       `{` + base + `,"body":"aGVs` + "\n" + `bG8=","isBase64Encoded":true}`,
		"a control character":                `{` + base + `,"body":"aGVs` + "\x01" + `bG8=","isBase64Encoded":true}`,
		"not base64":                         `{` + base + `,"body":"not base64!","isBase64Encoded":true}`,
		"text with escapes":                  `{` + base + `,"body":"{\"a\":\"\u00e9\"}","isBase64Encoded":false}`,
		"text without":                       `{` + base + `,"body":"plain text","isBase64Encoded":false}`,
		"invalid UTF-8":                      `{` + base + `,"body":"aGVs` + "\xff" + `bG8=","isBase64Encoded":true}`,
		"nested arrays and numbers":          `{"cookies":["a=1","b=\"]}"],"pathParameters":{"name":"a"},` + base + `,"body":"aGVsbG8=","isBase64Encoded":true,"n":[1,{"x":[true,null,-1.5e3]}]}`,
		"body not a string":                  `{` + base + `,"body":123,"isBase64Encoded":true}`,
		"empty body":                         `{` + base + `,"body":"","isBase64Encoded":true}`,
		"no body":                            `{` + base + `}`,
		"truncated":                          `{` + base + `,"body":"aGVsbG8=","isBase64Encoded":tr`,
		"unterminated body":                  `{` + base + `,"body":"aGVsbG8=`,
		"trailing garbage":                   `{` + base + `,"body":"aGVsbG8=","isBase64Encoded":true}}`,
		"not an object":                      `["body","aGVsbG8="]`,
		"whitespace everywhere":              " {\n\t" + base + " ,\r\n \"body\" : \"aGVsbG8=\" , \"isBase64Encoded\" : true } ",
		"backslash run before a quote (key)": `{` + base + `,"headers":{"k\\\\":"v\\\\"},"body":"aGVsbG8=","isBase64Encoded":true}`,
	} {
		out[name] = []byte(p)
	}
	return out
}

// TestInvokeMatchesTheRuntime: for every event, the adapter's Invoke
// answers byte for byte what aws-lambda-go's own decoding and encoding
// would, and fails where it fails.
func TestInvokeMatchesTheRuntime(t *testing.T) {
	for name, p := range payloads(t) {
		checkSame(t, name, p)
	}
}

// FuzzInvokeMatchesTheRuntime: the same for any payload.
func FuzzInvokeMatchesTheRuntime(f *testing.F) {
	for _, p := range payloads(f) {
		if len(p) < 64<<10 {
			f.Add(p)
		}
	}
	f.Fuzz(func(t *testing.T, p []byte) { checkSame(t, "fuzzed", p) })
}

// BenchmarkInvoke: a 4 MiB layer chunk's PATCH event, decoded by the
// adapter's Invoke and by aws-lambda-go's reflecting handler (same
// handler behind both).
func BenchmarkInvoke(b *testing.B) {
	chunk := make([]byte, 4<<20)
	for i := range chunk {
		chunk[i] = byte(i * 13)
	}
	ev := event("PATCH", "/v2/a/blobs/uploads/1")
	ev.Body, ev.IsBase64Encoded = base64.StdEncoding.EncodeToString(chunk), true
	payload, err := json.Marshal(ev)
	if err != nil {
		b.Fatal(err)
	}
	discard := lambdahttp.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(202) }), quiet)
	lib := lambda.NewHandler(func(ctx context.Context, ev eventV2) (any, error) { return discard(ctx, ev) })
	for name, h := range map[string]lambda.Handler{"adapter": discard, "aws-lambda-go": lib} {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(chunk)))
			for b.Loop() {
				if _, err := h.Invoke(context.Background(), payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
