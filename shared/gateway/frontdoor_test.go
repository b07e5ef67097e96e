package gateway

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// challenger answers like the enforcement point on a 401 and like a
// manifest HEAD otherwise, and echoes the body length it received.
var challenger = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.Header().Set("X-Body-Bytes", strings.Repeat("x", len(b)))
	if r.URL.Path == "/v2/" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="http://h/token",service="berth"`)
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"errors":[{"code":"UNAUTHORIZED"}]}`)
		return
	}
	w.Header().Set("Content-Length", "529")
	w.WriteHeader(http.StatusOK)
})

func TestFrontDoorModes(t *testing.T) {
	tests := []struct {
		name, modes    string
		method, path   string
		chunkedBody    bool
		wantStatus     int
		wantAuth       string // WWW-Authenticate, "" for absent
		wantRemapped   string // x-amzn-Remapped-WWW-Authenticate
		wantLength     int64
		wantBodyEchoed bool
	}{
		{name: "no modes pass the challenge through", modes: " , ", method: "GET", path: "/v2/",
			wantStatus: 401, wantAuth: `Bearer realm="http://h/token",service="berth"`, wantLength: 36},
		{name: "rest-remap renames WWW-Authenticate", modes: "rest-remap", method: "GET", path: "/v2/",
			wantStatus: 401, wantRemapped: `Bearer realm="http://h/token",service="berth"`, wantLength: 36},
		{name: "cloudfront-fix after rest-remap restores it", modes: "rest-remap, cloudfront-fix", method: "GET", path: "/v2/",
			wantStatus: 401, wantAuth: `Bearer realm="http://h/token",service="berth"`, wantLength: 36},
		{name: "cloudfront-fix before rest-remap cannot (order matters)", modes: "cloudfront-fix,rest-remap", method: "GET", path: "/v2/",
			wantStatus: 401, wantRemapped: `Bearer realm="http://h/token",service="berth"`, wantLength: 36},
		{name: "head-no-length zeroes a HEAD's Content-Length", modes: "head-no-length", method: "HEAD", path: "/v2/a/manifests/v1",
			wantStatus: 200, wantLength: 0},
		{name: "head-no-length leaves GET alone", modes: "head-no-length", method: "GET", path: "/v2/a/manifests/v1",
			wantStatus: 200, wantLength: 529},
		{name: "HEAD keeps its Content-Length by default", method: "HEAD", path: "/v2/a/manifests/v1",
			wantStatus: 200, wantLength: 529},
		{name: "no-chunked refuses a chunked body with a bare 411", modes: "no-chunked", method: "PATCH", path: "/v2/a/blobs/uploads/1",
			chunkedBody: true, wantStatus: 411, wantLength: 16},
		{name: "no-chunked passes a body with Content-Length", modes: "no-chunked", method: "PATCH", path: "/v2/a/blobs/uploads/1",
			wantStatus: 200, wantLength: 529, wantBodyEchoed: true},
		{name: "chunked bodies pass by default", method: "PATCH", path: "/v2/a/blobs/uploads/1",
			chunkedBody: true, wantStatus: 200, wantLength: 529, wantBodyEchoed: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := FrontDoor(challenger, tt.modes)
			if err != nil {
				t.Fatal(err)
			}
			srv := httptest.NewServer(h)
			defer srv.Close()
			var body io.Reader
			if tt.method == "PATCH" {
				body = strings.NewReader("hello")
				if tt.chunkedBody {
					body = struct{ io.Reader }{body} // no length: chunked
				}
			}
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, body)
			if err != nil {
				t.Fatal(err)
			}
			res, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			if res.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", res.StatusCode, tt.wantStatus)
			}
			if got := res.Header.Get("WWW-Authenticate"); got != tt.wantAuth {
				t.Errorf("WWW-Authenticate %q, want %q", got, tt.wantAuth)
			}
			if got := res.Header.Get("x-amzn-Remapped-WWW-Authenticate"); got != tt.wantRemapped {
				t.Errorf("x-amzn-Remapped-WWW-Authenticate %q, want %q", got, tt.wantRemapped)
			}
			if res.ContentLength != tt.wantLength {
				t.Errorf("Content-Length %d, want %d", res.ContentLength, tt.wantLength)
			}
			if echoed := res.Header.Get("X-Body-Bytes") == "xxxxx"; echoed != tt.wantBodyEchoed {
				t.Errorf("body reached the handler: %v, want %v", echoed, tt.wantBodyEchoed)
			}
		})
	}
}

func TestFrontDoorUnknownModeIsAnError(t *testing.T) {
	_, err := FrontDoor(challenger, "rest-remap,rest-remapp")
	if err == nil || !strings.Contains(err.Error(), `"rest-remapp"`) || !strings.Contains(err.Error(), "no-chunked") {
		t.Fatalf("err = %v, want one naming the bad mode and the valid ones", err)
	}
}
