package api_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/berth-registry/berth/shared/api"
	"github.com/berth-registry/berth/shared/reqinfo"
)

// mux serves two endpoints: GET and POST /api/things, GET
// /api/things/{name...} (failing internally for "boom").
func mux(logs *bytes.Buffer) *api.Mux {
	m := api.NewMux(slog.New(reqinfo.LogHandler(slog.NewJSONHandler(logs, nil))))
	m.Handle("GET /api/things", func(w http.ResponseWriter, r *http.Request) error {
		return api.Reply(w, http.StatusOK, map[string]any{"things": []string{"a/b"}})
	})
	m.Handle("POST /api/things", func(w http.ResponseWriter, r *http.Request) error {
		var b struct{ Name string }
		if err := api.Decode(r, &b); err != nil {
			return err
		}
		return api.Reply(w, http.StatusCreated, b)
	})
	m.Handle("GET /api/things/{name...}", func(w http.ResponseWriter, r *http.Request) error {
		if r.PathValue("name") == "boom" {
			return errors.New("bolt: /secret/path is broken")
		}
		return api.Reply(w, http.StatusOK, map[string]string{"name": r.PathValue("name")})
	})
	m.NotFound("/api/", "docs/things.md")
	return m
}

// TestMux: the /api frame answers in its JSON: routes by method and
// path, 405 with Allow, 404 for what no pattern names, the handlers'
// errors written once with the request id, internal ones logged (with
// the id) and never answered.
func TestMux(t *testing.T) {
	tests := []struct {
		name, method, path, body string
		status                   int
		code, contains, allow    string
	}{
		{"GET a collection", "GET", "/api/things", "", 200, "", `{"things":["a/b"]}`, ""},
		{"a trailing slash is the same path", "GET", "/api/things/", "", 200, "", `"things"`, ""},
		{"a rest wildcard takes slashes", "GET", "/api/things/dev/app", "", 200, "", `{"name":"dev/app"}`, ""},
		{"POST decodes", "POST", "/api/things", `{"Name":"x"}`, 201, "", `{"Name":"x"}`, ""},
		{"an unknown field is refused", "POST", "/api/things", `{"Nmae":"x"}`, 400, "INVALID", "Nmae", ""},
		{"an empty body is refused", "POST", "/api/things", ``, 400, "INVALID", "needs a JSON body", ""},
		{"two values are refused", "POST", "/api/things", `{} {}`, 400, "INVALID", "more than one", ""},
		{"a method the path lacks → 405 with Allow", "DELETE", "/api/things", "", 405, "UNSUPPORTED", "use GET, POST", "GET, POST"},
		{"a method a wildcard path lacks → 405 with Allow", "PUT", "/api/things/dev/app", "", 405, "UNSUPPORTED", "use GET", "GET"},
		{"HEAD is served where GET is", "HEAD", "/api/things", "", 200, "", "", ""},
		{"an unknown path with a known method's neighbour → 404", "DELETE", "/api/nothing", "", 404, "NOT_FOUND", "docs/things.md", ""},
		{"an unknown path → 404", "GET", "/api/nothing", "", 404, "NOT_FOUND", "docs/things.md", ""},
		{"an empty segment names nothing (no redirect)", "GET", "/api//things", "", 404, "NOT_FOUND", "", ""},
		{"a dot segment names nothing", "GET", "/api/things/../things", "", 404, "NOT_FOUND", "", ""},
		{"an internal error → 500 without its text", "GET", "/api/things/boom", "", 500, "UNKNOWN", "Req-1", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			r := httptest.NewRequest(tc.method, tc.path, strings.NewReader(tc.body))
			r = r.WithContext(reqinfo.With(r.Context(), &reqinfo.Info{ID: "Req-1"}))
			w := httptest.NewRecorder()
			mux(&logs).ServeHTTP(w, r)
			if w.Code != tc.status {
				t.Fatalf("%d %s, want %d", w.Code, w.Body, tc.status)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if !strings.Contains(w.Body.String(), tc.contains) {
				t.Errorf("body %s lacks %s", w.Body, tc.contains)
			}
			if got := w.Header().Get("Allow"); got != tc.allow {
				t.Errorf("Allow %q, want %q", got, tc.allow)
			}
			if tc.code != "" {
				var b struct {
					Errors    []struct{ Code string }
					RequestID string
				}
				if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || len(b.Errors) != 1 || b.Errors[0].Code != tc.code || b.RequestID != "Req-1" {
					t.Errorf("body %s, want error %s with the request id", w.Body, tc.code)
				}
			}
			if strings.Contains(w.Body.String(), "secret") {
				t.Errorf("the answer carries the internal error: %s", w.Body)
			}
			if tc.status == 500 {
				if !strings.Contains(logs.String(), `"request_id":"Req-1"`) || !strings.Contains(logs.String(), "/secret/path") {
					t.Errorf("the internal error was not logged with the request id: %s", logs.String())
				}
			} else if logs.Len() != 0 {
				t.Errorf("logged %s for a client error", logs.String())
			}
		})
	}
}

// TestReply: JSON that no cache keeps, names unescaped, with its length.
func TestReply(t *testing.T) {
	w := httptest.NewRecorder()
	if err := api.Reply(w, http.StatusOK, map[string]string{"login": "<dev>/admin"}); err != nil {
		t.Fatal(err)
	}
	if w.Body.String() != `{"login":"<dev>/admin"}` || w.Header().Get("Cache-Control") != "no-store" ||
		w.Header().Get("Content-Length") != "23" {
		t.Errorf("%s %v", w.Body, w.Header())
	}
}
