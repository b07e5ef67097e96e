package storetest

import (
	"bytes"
	"testing"

	"github.com/berth-registry/berth/shared/store"
)

// filled returns n bytes of b; distinct fill bytes per part make a wrong
// order or a stale part visible in the assembled object.
func filled(b byte, n int) []byte { return bytes.Repeat([]byte{b}, n) }

// upload starts a multipart object at a fresh key and writes data as
// parts 1..n, returning the key, upload id and parts.
func upload(t *testing.T, s store.BlobStore, data ...[]byte) (key, id string, parts []store.Part) {
	t.Helper()
	key = objectKey(t)
	id, err := s.CreateMultipart(ctx(t), key)
	must(t, "CreateMultipart", err)
	if id == "" {
		t.Fatal("CreateMultipart returned an empty upload id")
	}
	for i, d := range data {
		etag, err := s.UploadPart(ctx(t), key, id, i+1, d)
		must(t, "UploadPart", err)
		if etag == "" {
			t.Fatalf("UploadPart %d returned an empty ETag", i+1)
		}
		parts = append(parts, store.Part{Number: i + 1, ETag: etag, Size: int64(len(d))})
	}
	return key, id, parts
}

// wantAbsent fails unless key holds no object.
func wantAbsent(t *testing.T, s store.BlobStore, key string) {
	t.Helper()
	_, err := s.Stat(ctx(t), key)
	wantErr(t, "Stat of an incomplete multipart object", err, store.ErrNotFound)
}

var multipartTests = []blobStoreTest{
	{"three parts (5 MiB, 5 MiB, 1 byte) assemble in order", func(t *testing.T, s store.BlobStore) {
		p1, p2, p3 := filled('a', store.MinPartSize), filled('b', store.MinPartSize), []byte("c")
		key, id, parts := upload(t, s, p1, p2, p3)
		wantAbsent(t, s, key)
		must(t, "CompleteMultipart", s.CompleteMultipart(ctx(t), key, id, parts))
		checkObject(t, s, key, bytes.Join([][]byte{p1, p2, p3}, nil))
	}},
	{"a single part under the minimum size completes", func(t *testing.T, s store.BlobStore) {
		key, id, parts := upload(t, s, []byte("only"))
		must(t, "CompleteMultipart", s.CompleteMultipart(ctx(t), key, id, parts))
		checkObject(t, s, key, []byte("only"))
	}},
	{"re-uploading a part replaces it; its old ETag → ErrConflict", func(t *testing.T, s store.BlobStore) {
		p1, old, p2 := filled('a', store.MinPartSize), []byte("old"), []byte("new!")
		key, id, parts := upload(t, s, p1, old)
		etag, err := s.UploadPart(ctx(t), key, id, 2, p2)
		must(t, "UploadPart again", err)
		if etag == parts[1].ETag {
			t.Fatalf("different data for part 2 gave the same ETag %s", etag)
		}
		err = s.CompleteMultipart(ctx(t), key, id, parts)
		wantErr(t, "CompleteMultipart with the old ETag", err, store.ErrConflict)
		wantAbsent(t, s, key)
		parts[1] = store.Part{Number: 2, ETag: etag, Size: int64(len(p2))}
		must(t, "CompleteMultipart with the new ETag", s.CompleteMultipart(ctx(t), key, id, parts))
		checkObject(t, s, key, bytes.Join([][]byte{p1, p2}, nil))
	}},
	{"a non-last part under the minimum size fails Complete", func(t *testing.T, s store.BlobStore) {
		key, id, parts := upload(t, s, filled('a', store.MinPartSize-1), []byte("z"))
		if err := s.CompleteMultipart(ctx(t), key, id, parts); err == nil {
			t.Fatal("CompleteMultipart with a small first part succeeded")
		}
		wantAbsent(t, s, key)
	}},
	{"parts listed out of order fail Complete", func(t *testing.T, s store.BlobStore) {
		key, id, parts := upload(t, s, filled('a', store.MinPartSize), filled('b', store.MinPartSize))
		parts[0], parts[1] = parts[1], parts[0]
		if err := s.CompleteMultipart(ctx(t), key, id, parts); err == nil {
			t.Fatal("CompleteMultipart with parts 2, 1 succeeded")
		}
		wantAbsent(t, s, key)
	}},
	{"a part never uploaded fails Complete", func(t *testing.T, s store.BlobStore) {
		key, id, parts := upload(t, s, filled('a', store.MinPartSize))
		parts = append(parts, store.Part{Number: 2, ETag: parts[0].ETag, Size: 1})
		if err := s.CompleteMultipart(ctx(t), key, id, parts); err == nil {
			t.Fatal("CompleteMultipart listing a missing part succeeded")
		}
		wantAbsent(t, s, key)
	}},
	{"Abort then Complete fails", func(t *testing.T, s store.BlobStore) {
		key, id, parts := upload(t, s, []byte("x"))
		must(t, "AbortMultipart", s.AbortMultipart(ctx(t), key, id))
		if err := s.CompleteMultipart(ctx(t), key, id, parts); err == nil {
			t.Fatal("CompleteMultipart after Abort succeeded")
		}
		wantAbsent(t, s, key)
	}},
	{"Complete replaces an object already at the key", func(t *testing.T, s store.BlobStore) {
		key := objectKey(t)
		id, err := s.CreateMultipart(ctx(t), key)
		must(t, "CreateMultipart", err)
		must(t, "Put", s.Put(ctx(t), key, []byte("the previous, longer object")))
		etag, err := s.UploadPart(ctx(t), key, id, 1, []byte("new"))
		must(t, "UploadPart", err)
		must(t, "CompleteMultipart", s.CompleteMultipart(ctx(t), key, id, []store.Part{{Number: 1, ETag: etag, Size: 3}}))
		checkObject(t, s, key, []byte("new"))
	}},
}
