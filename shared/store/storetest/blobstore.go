package storetest

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/berth-registry/berth/shared/store"
)

// BlobStore runs the contract suite for store.BlobStore. open is called
// once per subtest with that subtest's t (register cleanup on it); it may
// return a fresh store or one shared by all subtests, since every key has
// a random suffix.
func BlobStore(t *testing.T, open func(t *testing.T) store.BlobStore) {
	groups := []struct {
		name  string
		tests []blobStoreTest
	}{
		{"objects", objectTests},
		{"multipart", multipartTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) { tc.run(t, open(t)) })
			}
		})
	}
}

// blobStoreTest is one named behaviour of store.BlobStore.
type blobStoreTest struct {
	name string
	run  func(t *testing.T, s store.BlobStore)
}

// objectKey returns a key shaped like the registry's (nested, slashes).
func objectKey(t *testing.T) string { return "storetest/" + unique(t, "obj") + "/data" }

// checkObject fails unless key holds exactly want, by Get and by Stat.
func checkObject(t *testing.T, s store.BlobStore, key string, want []byte) {
	t.Helper()
	got, err := s.Get(ctx(t), key)
	must(t, "Get", err)
	if !bytes.Equal(got, want) {
		at := 0
		for at < len(got) && at < len(want) && got[at] == want[at] {
			at++
		}
		t.Fatalf("Get returned %d bytes, want %d; first difference at byte %d", len(got), len(want), at)
	}
	size, err := s.Stat(ctx(t), key)
	must(t, "Stat", err)
	if size != int64(len(want)) {
		t.Fatalf("Stat = %d, want %d", size, len(want))
	}
}

var objectTests = []blobStoreTest{
	{"Put then Get and Stat", func(t *testing.T, s store.BlobStore) {
		key := objectKey(t)
		must(t, "Put", s.Put(ctx(t), key, []byte("hello, berth")))
		checkObject(t, s, key, []byte("hello, berth"))
	}},
	{"Get and Stat of a missing object → ErrNotFound", func(t *testing.T, s store.BlobStore) {
		key := objectKey(t)
		_, err := s.Get(ctx(t), key)
		wantErr(t, "Get", err, store.ErrNotFound)
		_, err = s.Stat(ctx(t), key)
		wantErr(t, "Stat", err, store.ErrNotFound)
	}},
	{"Put overwrites, shorter data included", func(t *testing.T, s store.BlobStore) {
		key := objectKey(t)
		must(t, "Put", s.Put(ctx(t), key, bytes.Repeat([]byte("long "), 100)))
		must(t, "Put again", s.Put(ctx(t), key, []byte("short")))
		checkObject(t, s, key, []byte("short"))
	}},
	{"a zero-length object exists with size 0", func(t *testing.T, s store.BlobStore) {
		key := objectKey(t)
		must(t, "Put", s.Put(ctx(t), key, nil))
		checkObject(t, s, key, nil)
	}},
	{"Delete removes the object", func(t *testing.T, s store.BlobStore) {
		key := objectKey(t)
		must(t, "Put", s.Put(ctx(t), key, []byte("x")))
		must(t, "Delete", s.Delete(ctx(t), key))
		_, err := s.Get(ctx(t), key)
		wantErr(t, "Get after delete", err, store.ErrNotFound)
		_, err = s.Stat(ctx(t), key)
		wantErr(t, "Stat after delete", err, store.ErrNotFound)
	}},
	{"Delete of a missing object is not an error", func(t *testing.T, s store.BlobStore) {
		must(t, "Delete", s.Delete(ctx(t), objectKey(t)))
	}},
	{"objects under different keys are independent", func(t *testing.T, s store.BlobStore) {
		a, b := objectKey(t), objectKey(t)
		must(t, "Put a", s.Put(ctx(t), a, []byte("a")))
		must(t, "Put b", s.Put(ctx(t), b, []byte("b")))
		must(t, "Delete a", s.Delete(ctx(t), a))
		checkObject(t, s, b, []byte("b"))
	}},
	{"Move puts the bytes under the new key and removes the old (a Mover)", func(t *testing.T, s store.BlobStore) {
		m, ok := s.(store.Mover)
		if !ok {
			t.Fatalf("%T is not a store.Mover: commits would read and rewrite every upload tail", s)
		}
		from, to := "uploads/"+unique(t, "up")+"/tail-2-ab", objectKey(t)
		data := bytes.Repeat([]byte("tail "), 1000)
		must(t, "Put", s.Put(ctx(t), from, data))
		must(t, "Put of the target (overwritten by the move)", s.Put(ctx(t), to, []byte("old")))
		must(t, "Move", m.Move(ctx(t), from, to))
		checkObject(t, s, to, data)
		_, err := s.Stat(ctx(t), from)
		wantErr(t, "Stat of the source after the move", err, store.ErrNotFound)
		wantErr(t, "Move of a missing object", m.Move(ctx(t), from, objectKey(t)), store.ErrNotFound)
	}},
	{"PresignGet returns a path or an absolute http(s) URL", func(t *testing.T, s store.BlobStore) {
		key := objectKey(t)
		must(t, "Put", s.Put(ctx(t), key, []byte("x")))
		raw, err := s.PresignGet(ctx(t), key, time.Minute)
		must(t, "PresignGet", err)
		if strings.HasPrefix(raw, "/") && !strings.HasPrefix(raw, "//") {
			return
		}
		u, err := url.Parse(raw)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			t.Fatalf("PresignGet = %q, want a path starting with / or an absolute http(s) URL", raw)
		}
	}},
}
