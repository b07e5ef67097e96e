package local

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/store"
)

// openTestObjects opens an object store in a fresh directory.
func openTestObjects(t *testing.T) (*Objects, string) {
	t.Helper()
	dir := t.TempDir()
	o, err := OpenObjects(dir)
	if err != nil {
		t.Fatal(err)
	}
	return o, dir
}

// serveObject requests target from o's URL handler.
func serveObject(o *Objects, method, target string, header http.Header) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, nil)
	for k, vs := range header {
		req.Header[k] = vs
	}
	rec := httptest.NewRecorder()
	o.ServeHTTP(rec, req)
	return rec
}

// presign returns a URL for key valid for ttl.
func presign(t *testing.T, o *Objects, key string, ttl time.Duration) string {
	t.Helper()
	u, err := o.PresignGet(context.Background(), key, ttl)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u, ObjectPathPrefix) {
		t.Fatalf("presigned URL %q is not under %s", u, ObjectPathPrefix)
	}
	return u
}

func TestPresignedURLServesObject(t *testing.T) {
	o, _ := openTestObjects(t)
	ctx := context.Background()
	data := []byte("0123456789abcdef")
	key := "blobs/sha256/ab/abcdef"
	if err := o.Put(ctx, key, data); err != nil {
		t.Fatal(err)
	}
	u := presign(t, o, key, time.Hour)

	tests := []struct {
		name      string
		method    string
		rangeHdr  string
		wantCode  int
		wantBody  string
		wantRange string
	}{
		{name: "GET returns the bytes", method: http.MethodGet, wantCode: 200, wantBody: string(data)},
		{name: "HEAD returns the length only", method: http.MethodHead, wantCode: 200},
		{name: "bytes=2-5 → 206 with that slice", method: http.MethodGet, rangeHdr: "bytes=2-5", wantCode: 206, wantBody: "2345", wantRange: "bytes 2-5/16"},
		{name: "suffix range bytes=-3 → the last 3 bytes", method: http.MethodGet, rangeHdr: "bytes=-3", wantCode: 206, wantBody: "def", wantRange: "bytes 13-15/16"},
		{name: "open range bytes=10- → to the end", method: http.MethodGet, rangeHdr: "bytes=10-", wantCode: 206, wantBody: "abcdef", wantRange: "bytes 10-15/16"},
		{name: "range past the end → 416", method: http.MethodGet, rangeHdr: "bytes=100-200", wantCode: 416},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.rangeHdr != "" {
				h.Set("Range", tc.rangeHdr)
			}
			rec := serveObject(o, tc.method, u, h)
			if rec.Code != tc.wantCode {
				t.Fatalf("status %d, want %d (%s)", rec.Code, tc.wantCode, rec.Body)
			}
			if tc.wantCode >= 300 {
				return
			}
			if rec.Body.String() != tc.wantBody {
				t.Errorf("body %q, want %q", rec.Body, tc.wantBody)
			}
			if got := rec.Header().Get("Content-Range"); got != tc.wantRange {
				t.Errorf("Content-Range %q, want %q", got, tc.wantRange)
			}
			wantLen := len(tc.wantBody)
			if tc.method == http.MethodHead {
				wantLen = len(data)
			}
			if got := rec.Header().Get("Content-Length"); got != strconv.Itoa(wantLen) {
				t.Errorf("Content-Length %q, want %d", got, wantLen)
			}
		})
	}
}

func TestPresignedURLRefusals(t *testing.T) {
	o, _ := openTestObjects(t)
	ctx := context.Background()
	key := "blobs/sha256/12/1234"
	if err := o.Put(ctx, key, []byte("secret layer")); err != nil {
		t.Fatal(err)
	}
	if err := o.Put(ctx, "blobs/sha256/56/5678", []byte("other layer")); err != nil {
		t.Fatal(err)
	}
	good, err := url.Parse(presign(t, o, key, time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	with := func(path string, change func(q url.Values)) string {
		q := good.Query()
		change(q)
		return (&url.URL{Path: path, RawQuery: q.Encode()}).String()
	}
	sig := good.Query().Get("signature")
	exp, _ := strconv.ParseInt(good.Query().Get("expires"), 10, 64)
	flipped := "0"
	if sig[0] == '0' {
		flipped = "1"
	}

	tests := []struct {
		name     string
		method   string
		target   string
		wantCode int
	}{
		{"tampered signature → 403", http.MethodGet, with(good.Path, func(q url.Values) { q.Set("signature", flipped+sig[1:]) }), 403},
		{"missing signature → 403", http.MethodGet, with(good.Path, func(q url.Values) { q.Del("signature") }), 403},
		{"tampered key → 403", http.MethodGet, with(ObjectPathPrefix+"blobs/sha256/56/5678", func(url.Values) {}), 403},
		{"tampered expiry → 403", http.MethodGet, with(good.Path, func(q url.Values) { q.Set("expires", strconv.FormatInt(exp+3600, 10)) }), 403},
		{"non-numeric expiry → 403", http.MethodGet, with(good.Path, func(q url.Values) { q.Set("expires", "soon") }), 403},
		{"POST → 405", http.MethodPost, good.String(), 405},
		{"PUT → 405", http.MethodPut, good.String(), 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec := serveObject(o, tc.method, tc.target, nil)
			if rec.Code != tc.wantCode {
				t.Fatalf("status %d, want %d", rec.Code, tc.wantCode)
			}
			if strings.Contains(rec.Body.String(), "layer") {
				t.Errorf("refused request got object bytes: %q", rec.Body)
			}
		})
	}
}

func TestPresignedURLExpires(t *testing.T) {
	o, _ := openTestObjects(t)
	ctx := context.Background()
	if err := o.Put(ctx, "k", []byte("data")); err != nil {
		t.Fatal(err)
	}
	start := time.Unix(1_800_000_000, 0)
	o.now = func() time.Time { return start }
	u := presign(t, o, "k", 15*time.Minute)

	tests := []struct {
		name     string
		at       time.Time
		wantCode int
	}{
		{"just before expiry → 200", start.Add(15*time.Minute - time.Second), 200},
		{"at the expiry second → 200", start.Add(15 * time.Minute), 200},
		{"after expiry → 403", start.Add(15*time.Minute + time.Second), 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o.now = func() time.Time { return tc.at }
			if rec := serveObject(o, http.MethodGet, u, nil); rec.Code != tc.wantCode {
				t.Errorf("status %d, want %d", rec.Code, tc.wantCode)
			}
		})
	}
}

func TestPresignedURLOfMissingObjectIs404(t *testing.T) {
	o, _ := openTestObjects(t)
	u := presign(t, o, "blobs/never-written", time.Hour)
	if rec := serveObject(o, http.MethodGet, u, nil); rec.Code != http.StatusNotFound {
		t.Errorf("status %d, want 404", rec.Code)
	}
	if err := o.Put(context.Background(), "gone", []byte("x")); err != nil {
		t.Fatal(err)
	}
	u = presign(t, o, "gone", time.Hour)
	if err := o.Delete(context.Background(), "gone"); err != nil {
		t.Fatal(err)
	}
	if rec := serveObject(o, http.MethodGet, u, nil); rec.Code != http.StatusNotFound {
		t.Errorf("deleted object: status %d, want 404", rec.Code)
	}
}

func TestSigningKeySurvivesRestart(t *testing.T) {
	o, dir := openTestObjects(t)
	if err := o.Put(context.Background(), "k", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	u := presign(t, o, "k", time.Hour)

	again, err := OpenObjects(dir)
	if err != nil {
		t.Fatal(err)
	}
	if rec := serveObject(again, http.MethodGet, u, nil); rec.Code != 200 || rec.Body.String() != "kept" {
		t.Errorf("after reopening: %d %q, want 200 \"kept\"", rec.Code, rec.Body)
	}

	other, _ := openTestObjects(t)
	if err := other.Put(context.Background(), "k", []byte("kept")); err != nil {
		t.Fatal(err)
	}
	if rec := serveObject(other, http.MethodGet, u, nil); rec.Code != http.StatusForbidden {
		t.Errorf("another store's key accepted the URL: status %d, want 403", rec.Code)
	}
}

func TestObjectsRoundTrip(t *testing.T) {
	o, _ := openTestObjects(t)
	ctx := context.Background()
	key := "manifests/team/app/sha256-abc"
	if _, err := o.Get(ctx, key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get missing: %v, want ErrNotFound", err)
	}
	if _, err := o.Stat(ctx, key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Stat missing: %v, want ErrNotFound", err)
	}
	if err := o.Put(ctx, key, []byte("first")); err != nil {
		t.Fatal(err)
	}
	if err := o.Put(ctx, key, []byte("second version")); err != nil {
		t.Fatal(err)
	}
	if b, err := o.Get(ctx, key); err != nil || string(b) != "second version" {
		t.Errorf("Get = %q, %v; want the last Put", b, err)
	}
	if n, err := o.Stat(ctx, key); err != nil || n != int64(len("second version")) {
		t.Errorf("Stat = %d, %v; want %d", n, err, len("second version"))
	}
	if err := o.Delete(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Get(ctx, key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Get after Delete: %v, want ErrNotFound", err)
	}
	if _, err := o.Stat(ctx, key); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Stat after Delete: %v, want ErrNotFound", err)
	}
	if err := o.Delete(ctx, key); err != nil {
		t.Errorf("deleting a missing object: %v, want nil", err)
	}
}

func TestObjectKeysCannotEscapeTheDirectory(t *testing.T) {
	o, dir := openTestObjects(t)
	for _, key := range []string{"", "/", "../outside", "a/../../outside", "a\x00b"} {
		if err := o.Put(context.Background(), key, []byte("x")); err == nil {
			t.Errorf("Put(%q) succeeded, want an error", key)
		}
		if _, err := o.PresignGet(context.Background(), key, time.Hour); err == nil {
			t.Errorf("PresignGet(%q) succeeded, want an error", key)
		}
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "outside")); err == nil {
		t.Error("a key wrote outside the object directory")
	}
}

// part is n bytes of b.
func part(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

// uploadParts starts a multipart object at key and uploads data as parts
// 1..len(data).
func uploadParts(t *testing.T, o *Objects, key string, data ...[]byte) (string, []store.Part) {
	t.Helper()
	ctx := context.Background()
	id, err := o.CreateMultipart(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	var parts []store.Part
	for i, d := range data {
		etag, err := o.UploadPart(ctx, key, id, i+1, d)
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, store.Part{Number: i + 1, ETag: etag, Size: int64(len(d))})
	}
	return id, parts
}

func TestMultipartCompleteAssemblesParts(t *testing.T) {
	o, _ := openTestObjects(t)
	ctx := context.Background()
	first, last := part('a', store.MinPartSize), part('b', 10)
	id, parts := uploadParts(t, o, "blobs/big", first, last)
	if err := o.CompleteMultipart(ctx, "blobs/big", id, parts); err != nil {
		t.Fatalf("Complete: %v", err)
	}
	got, err := o.Get(ctx, "blobs/big")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, append(first, last...)) {
		t.Errorf("object is %d bytes, want the %d bytes of both parts in order", len(got), len(first)+len(last))
	}
	if _, err := os.Stat(filepath.Join(o.dir, "multipart", id)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("parts left behind after Complete: %v", err)
	}
}

func TestMultipartCompleteRefusals(t *testing.T) {
	small := part('s', 1024)
	big := part('b', store.MinPartSize)
	tests := []struct {
		name         string
		data         [][]byte
		edit         func(parts []store.Part) []store.Part
		wantConflict bool
	}{
		{name: "part under MinPartSize before the last is refused", data: [][]byte{small, small}},
		{name: "part one byte under MinPartSize is refused", data: [][]byte{part('x', store.MinPartSize-1), small}},
		{name: "wrong ETag → ErrConflict", data: [][]byte{big, small}, wantConflict: true,
			edit: func(p []store.Part) []store.Part { p[1].ETag = `"00000000000000000000000000000000"`; return p }},
		{name: "part never uploaded → ErrConflict", data: [][]byte{big}, wantConflict: true,
			edit: func(p []store.Part) []store.Part { return append(p, store.Part{Number: 2, ETag: p[0].ETag}) }},
		{name: "parts out of order are refused", data: [][]byte{big, big},
			edit: func(p []store.Part) []store.Part { p[0], p[1] = p[1], p[0]; return p }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, _ := openTestObjects(t)
			ctx := context.Background()
			id, parts := uploadParts(t, o, "blobs/k", tc.data...)
			if tc.edit != nil {
				parts = tc.edit(parts)
			}
			err := o.CompleteMultipart(ctx, "blobs/k", id, parts)
			if err == nil {
				t.Fatal("Complete succeeded, want an error")
			}
			if tc.wantConflict && !errors.Is(err, store.ErrConflict) {
				t.Errorf("error %v does not wrap store.ErrConflict", err)
			}
			if _, err := o.Stat(ctx, "blobs/k"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("a refused Complete left an object: %v", err)
			}
		})
	}
}

func TestMultipartAbortRemovesParts(t *testing.T) {
	o, _ := openTestObjects(t)
	ctx := context.Background()
	id, parts := uploadParts(t, o, "blobs/a", []byte("one"), []byte("two"))
	if err := o.AbortMultipart(ctx, "blobs/a", id); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Join(o.dir, "multipart"))
	if err != nil || len(entries) != 0 {
		t.Errorf("multipart dir after Abort: %v entries, %v; want empty", len(entries), err)
	}
	if _, err := o.UploadPart(ctx, "blobs/a", id, 3, []byte("x")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UploadPart after Abort: %v, want ErrNotFound", err)
	}
	if err := o.CompleteMultipart(ctx, "blobs/a", id, parts); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Complete after Abort: %v, want ErrNotFound", err)
	}
}

func TestMultipartPartForAnotherKeyIsRefused(t *testing.T) {
	o, _ := openTestObjects(t)
	id, _ := uploadParts(t, o, "blobs/mine")
	if _, err := o.UploadPart(context.Background(), "blobs/theirs", id, 1, []byte("x")); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("UploadPart under another key: %v, want ErrNotFound", err)
	}
	for _, n := range []int{0, 10001} {
		if _, err := o.UploadPart(context.Background(), "blobs/mine", id, n, []byte("x")); err == nil {
			t.Errorf("part number %d accepted, want an error", n)
		}
	}
}
