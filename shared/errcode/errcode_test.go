package errcode

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/berth-registry/berth/shared/reqinfo"
)

func TestWrite(t *testing.T) {
	for _, tc := range []struct {
		name       string
		method     string
		err        error
		wantStatus int
		wantCode   Code
		wantMsg    string
		wantBody   bool
	}{
		{"spec code → its status", "GET", New(BlobUnknown, "blob %s", "x"), 404, BlobUnknown, "blob x", true},
		{"wrapped error keeps its code", "GET", fmt.Errorf("ctx: %w", New(DigestInvalid, "bad")), 400, DigestInvalid, "bad", true},
		{"status override", "PATCH", New(SizeInvalid, "too big").WithStatus(413), 413, SizeInvalid, "too big", true},
		{"own API codes", "GET", New(Conflict, "exists"), 409, Conflict, "exists", true},
		{"internal error → 500 UNKNOWN without its text", "GET", errors.New("bolt: database not open /secret/path"), 500, Unknown, "internal error; the registry's logs have details under the request id", true},
		{"HEAD → status and headers, no body", "HEAD", New(ManifestUnknown, "no"), 404, ManifestUnknown, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			Write(w, httptest.NewRequest(tc.method, "/v2/", nil), tc.err)
			if w.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d", w.Code, tc.wantStatus)
			}
			if ct := w.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if !tc.wantBody {
				if w.Body.Len() != 0 {
					t.Errorf("HEAD body %q", w.Body)
				}
				return
			}
			var b body
			if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil || len(b.Errors) != 1 {
				t.Fatalf("body %q: %v", w.Body, err)
			}
			if b.Errors[0].Code != tc.wantCode || b.Errors[0].Message != tc.wantMsg {
				t.Errorf("got %+v, want %s %q", b.Errors[0], tc.wantCode, tc.wantMsg)
			}
		})
	}
}

func TestWithHeaderReachesTheResponse(t *testing.T) {
	w := httptest.NewRecorder()
	Write(w, httptest.NewRequest("PATCH", "/", nil), New(RangeInvalid, "wrong offset").WithHeader("Range", "0-9"))
	if w.Code != http.StatusRequestedRangeNotSatisfiable || w.Header().Get("Range") != "0-9" {
		t.Fatalf("status %d Range %q", w.Code, w.Header().Get("Range"))
	}
}

// TestErrorBodyCarriesTheRequestID: every error body names the request
// id the client was given, and an internal error's message (which
// clients print) does too; outside a gateway there is none to name.
func TestErrorBodyCarriesTheRequestID(t *testing.T) {
	for _, tc := range []struct {
		name, id string
		err      error
		wantMsg  string
	}{
		{"spec error", "Ab1cDEFGoAMEVXg=", New(NameUnknown, "no such repository"), "no such repository"},
		{"internal error", "Ab1cDEFGoAMEVXg=", errors.New("secret"), "internal error; the registry's logs have details under the request id (request id Ab1cDEFGoAMEVXg=)"},
		{"no gateway", "", errors.New("secret"), "internal error; the registry's logs have details under the request id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/v2/", nil)
			if tc.id != "" {
				r = r.WithContext(reqinfo.With(r.Context(), &reqinfo.Info{ID: tc.id}))
			}
			w := httptest.NewRecorder()
			Write(w, r, tc.err)
			var b body
			if err := json.Unmarshal(w.Body.Bytes(), &b); err != nil {
				t.Fatal(err)
			}
			if b.RequestID != tc.id || b.Errors[0].Message != tc.wantMsg {
				t.Errorf("body %s: want requestId %q, message %q", w.Body, tc.id, tc.wantMsg)
			}
		})
	}
}
