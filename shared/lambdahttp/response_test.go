package lambdahttp_test

import (
	"context"
	"encoding/base64"
	"net/http"
	"slices"
	"testing"

	"github.com/aws/aws-lambda-go/events"

	"github.com/berth-registry/berth/shared/lambdahttp"
)

// serve runs one event through h.
func serve(t *testing.T, method string, h http.HandlerFunc) events.APIGatewayV2HTTPResponse {
	t.Helper()
	res, err := lambdahttp.Handler(h, quiet)(context.Background(), event(method, "/v2/a/blobs/sha256:abc"))
	if err != nil {
		t.Fatalf("handler: %v", err)
	}
	return res
}

// TestResponseBody: every body reaches the client byte-exact: bytes
// that are not UTF-8 travel as base64, the rest as text (which API
// Gateway passes as it is).
func TestResponseBody(t *testing.T) {
	binary := []byte{0x1f, 0x8b, 0x08, 0x00, 0xff, 0xfe, 0x00, 0x80}
	tests := []struct {
		name        string
		contentType string
		body        []byte
		wantBase64  bool
	}{
		{"binary body travels as base64", "application/octet-stream", binary, true},
		{"JSON body travels as text", "application/json", []byte(`{"errors":[]}`), false},
		{"OCI manifest JSON travels as text", "application/vnd.oci.image.manifest.v1+json", []byte(`{"schemaVersion":2}`), false},
		{"text body travels as text", "text/plain; charset=utf-8", []byte("héllo"), false},
		{"invalid UTF-8 under a text type travels as base64", "text/plain", binary, true},
		{"body without a content type", "", []byte("plain"), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := serve(t, "GET", func(w http.ResponseWriter, r *http.Request) {
				if tt.contentType != "" {
					w.Header().Set("Content-Type", tt.contentType)
				}
				_, _ = w.Write(tt.body)
			})
			if res.IsBase64Encoded != tt.wantBase64 {
				t.Errorf("base64 %v, want %v", res.IsBase64Encoded, tt.wantBase64)
			}
			got := []byte(res.Body)
			if res.IsBase64Encoded {
				var err error
				if got, err = base64.StdEncoding.DecodeString(res.Body); err != nil {
					t.Fatal(err)
				}
			}
			if string(got) != string(tt.body) {
				t.Errorf("body %x, want %x", got, tt.body)
			}
		})
	}
}

func TestResponseStatus(t *testing.T) {
	tests := []struct {
		name string
		h    http.HandlerFunc
		want int
	}{
		{"handler that writes nothing answers 200", func(http.ResponseWriter, *http.Request) {}, http.StatusOK},
		{"body without WriteHeader answers 200", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("x")) }, http.StatusOK},
		{"explicit status is kept", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTemporaryRedirect) }, http.StatusTemporaryRedirect},
		{"first WriteHeader wins", func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusAccepted)
			w.WriteHeader(http.StatusInternalServerError)
		}, http.StatusAccepted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := serve(t, "GET", tt.h).StatusCode; got != tt.want {
				t.Errorf("status = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestResponseHeaders(t *testing.T) {
	res := serve(t, "GET", func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Add("OCI-Tag", "v1")
		h.Add("OCI-Tag", "latest")
		h.Set("Docker-Content-Digest", "sha256:abc")
		h.Add("Set-Cookie", "a=1; Path=/")
		h.Add("Set-Cookie", "b=2; HttpOnly")
		w.WriteHeader(http.StatusCreated)
	})
	if got := res.Headers["Oci-Tag"]; got != "v1,latest" {
		t.Errorf("Oci-Tag = %q, want the values comma-joined", got)
	}
	if got := res.Headers["Docker-Content-Digest"]; got != "sha256:abc" {
		t.Errorf("Docker-Content-Digest = %q", got)
	}
	if _, ok := res.Headers["Set-Cookie"]; ok {
		t.Errorf("Set-Cookie left in headers: %q", res.Headers["Set-Cookie"])
	}
	if want := []string{"a=1; Path=/", "b=2; HttpOnly"}; !slices.Equal(res.Cookies, want) {
		t.Errorf("cookies = %q, want %q", res.Cookies, want)
	}
}

func TestResponseHEADKeepsContentLength(t *testing.T) {
	res := serve(t, "HEAD", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w.Header().Set("Content-Length", "1234")
		w.WriteHeader(http.StatusOK)
	})
	if res.StatusCode != http.StatusOK || res.Body != "" || res.IsBase64Encoded {
		t.Errorf("status %d body %q base64 %v, want 200 with an empty body", res.StatusCode, res.Body, res.IsBase64Encoded)
	}
	if got := res.Headers["Content-Length"]; got != "1234" {
		t.Errorf("Content-Length = %q, want 1234", got)
	}
	if got := res.Headers["X-Berth-Content-Length"]; got != "1234" {
		t.Errorf("X-Berth-Content-Length = %q, want 1234 (docs/doctor.md)", got)
	}
}
