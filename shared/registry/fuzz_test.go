package registry

import (
	"bytes"
	"errors"
	"fmt"
	"net/http/httptest"
	"testing"

	"github.com/berth-registry/berth/shared/errcode"
	"github.com/berth-registry/berth/shared/store"
)

// FuzzContentRange checks the Content-Range parser of chunked uploads:
// it never panics, accepts only 0 <= start <= end, and what it accepts
// it reads back from its own canonical form.
func FuzzContentRange(f *testing.F) {
	for _, s := range []string{"0-0", "0-1048575", "bytes 5-9/10", " 7-7 ", "0-", "-1-0", "9-3", "0-99999999999999999999", "1-2-3", "", "a-b", "0x1-2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, end, ok := parseContentRange(s)
		if !ok {
			if start != 0 || end != 0 {
				t.Fatalf("parseContentRange(%q) refused but returned %d-%d", s, start, end)
			}
			return
		}
		if start < 0 || end < start {
			t.Fatalf("parseContentRange(%q) = %d-%d", s, start, end)
		}
		s2, e2, ok2 := parseContentRange(fmt.Sprintf("%d-%d", start, end))
		if !ok2 || s2 != start || e2 != end {
			t.Fatalf("%d-%d does not read back: %d-%d %v", start, end, s2, e2, ok2)
		}
	})
}

// FuzzReadParts checks the part list of a completing direct upload: it
// never panics, refuses with a spec error only (never a bare error that
// would answer 500), and accepts only what S3 would: 1..10,000 parts
// numbered in ascending order within 1..10,000, each with an ETag a PUT
// could have answered and a size within S3's bounds, every part but the
// last at least store.MinPartSize.
func FuzzReadParts(f *testing.F) {
	for _, s := range []string{
		`{"parts":[{"number":1,"etag":"\"0f\"","size":5}]}`,
		`{"parts":[{"number":1,"etag":"a","size":5242880},{"number":2,"etag":"b","size":1}]}`,
		`{"parts":[{"number":2,"etag":"a","size":1},{"number":1,"etag":"b","size":1}]}`,
		`{"parts":[{"number":0,"etag":"a","size":1}]}`,
		`{"parts":[{"number":1,"etag":"","size":1}]}`,
		`{"parts":[{"number":1,"etag":"\u0000","size":-1}]}`,
		`{"parts":[]}`, `{}`, `null`, ``, `[`, `{"parts":[{"number":1e99}]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		parts, err := readParts(httptest.NewRequest("PUT", "/v2/r/blobs/uploads/x", bytes.NewReader(body)))
		if err != nil {
			var e *errcode.Error
			if !errors.As(err, &e) || e.HTTPStatus() >= 500 {
				t.Fatalf("readParts(%q): %v, want a spec error below 500", body, err)
			}
			return
		}
		if len(parts) == 0 || len(parts) > maxParts {
			t.Fatalf("readParts(%q) accepted %d parts", body, len(parts))
		}
		prev := 0
		for i, p := range parts {
			last := i == len(parts)-1
			if p.Number <= prev || p.Number > maxParts || p.ETag == "" || !validETag(p.ETag) ||
				p.Size < 0 || p.Size > maxPartSize || (!last && p.Size < store.MinPartSize) {
				t.Fatalf("readParts(%q) accepted part %d: %+v", body, i, p)
			}
			prev = p.Number
		}
	})
}
