package local

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/berth-registry/berth/shared/store"
)

// ObjectPathPrefix is the gateway path under which signed object URLs are
// served, standing in for S3.
const ObjectPathPrefix = "/_berth/objects/"

// Objects implements store.BlobStore as files under a directory.
type Objects struct {
	dir string
	key []byte // HMAC key for signed URLs, kept in the data dir
	now func() time.Time
}

var _ store.BlobStore = (*Objects)(nil)

// OpenObjects opens (creating if needed) an object directory. The URL
// signing key is created once and kept in dir, so URLs survive restarts.
func OpenObjects(dir string) (*Objects, error) {
	for _, d := range []string{"objects", "multipart", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return nil, fmt.Errorf("create object dir: %w", err)
		}
	}
	keyPath := filepath.Join(dir, "url-signing.key")
	k, err := os.ReadFile(keyPath)
	if errors.Is(err, fs.ErrNotExist) {
		k = make([]byte, 32)
		if _, err := rand.Read(k); err != nil {
			return nil, err
		}
		if err := writeAtomic(filepath.Join(dir, "tmp"), keyPath, k); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("read signing key: %w", err)
	}
	return &Objects{dir: dir, key: k, now: time.Now}, nil
}

// path maps a key to a file; keys are made by the registry (no "..").
func (o *Objects) path(key string) (string, error) {
	clean := filepath.Clean("/" + key)
	if clean == "/" || strings.Contains(key, "..") || strings.ContainsRune(key, 0) {
		return "", fmt.Errorf("invalid object key %q", key)
	}
	return filepath.Join(o.dir, "objects", clean), nil
}

func writeAtomic(tmpDir, path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(tmpDir, "put-*")
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return err
	}
	return os.Rename(f.Name(), path)
}

// Put implements store.Objects.
func (o *Objects) Put(_ context.Context, key string, data []byte) error {
	p, err := o.path(key)
	if err != nil {
		return err
	}
	return writeAtomic(filepath.Join(o.dir, "tmp"), p, data)
}

// Move implements store.Mover with a rename.
func (o *Objects) Move(_ context.Context, from, to string) error {
	src, err := o.path(from)
	if err != nil {
		return err
	}
	dst, err := o.path(to)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	err = os.Rename(src, dst)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("object %s: %w", from, store.ErrNotFound)
	}
	return err
}

// Get implements store.Objects.
func (o *Objects) Get(_ context.Context, key string) ([]byte, error) {
	p, err := o.path(key)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("object %s: %w", key, store.ErrNotFound)
	}
	return b, err
}

// Stat implements store.Objects.
func (o *Objects) Stat(_ context.Context, key string) (int64, error) {
	p, err := o.path(key)
	if err != nil {
		return 0, err
	}
	fi, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("object %s: %w", key, store.ErrNotFound)
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// Delete implements store.Objects.
func (o *Objects) Delete(_ context.Context, key string) error {
	p, err := o.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}

func (o *Objects) sign(key string, exp int64) string {
	mac := hmac.New(sha256.New, o.key)
	fmt.Fprintf(mac, "GET\n%s\n%d", key, exp)
	return hex.EncodeToString(mac.Sum(nil))
}

// PresignGet implements store.Objects with a gateway-relative URL signed
// with HMAC-SHA256 over method, key and expiry.
func (o *Objects) PresignGet(_ context.Context, key string, ttl time.Duration) (string, error) {
	if _, err := o.path(key); err != nil {
		return "", err
	}
	exp := o.now().Add(ttl).Unix()
	q := url.Values{"expires": {strconv.FormatInt(exp, 10)}, "signature": {o.sign(key, exp)}}
	return ObjectPathPrefix + key + "?" + q.Encode(), nil
}

// ServeHTTP serves a URL made by PresignGet: 403 for a bad or expired
// signature, 404 for a missing object, Range requests as net/http does.
func (o *Objects) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPut {
		o.servePart(w, r) // a URL made by PresignUploadPart (presign_part.go)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	key := strings.TrimPrefix(r.URL.Path, ObjectPathPrefix)
	exp, err := strconv.ParseInt(r.URL.Query().Get("expires"), 10, 64)
	want := o.sign(key, exp)
	if err != nil || !hmac.Equal([]byte(want), []byte(r.URL.Query().Get("signature"))) {
		http.Error(w, "signature does not match", http.StatusForbidden)
		return
	}
	if o.now().Unix() > exp {
		http.Error(w, "request has expired", http.StatusForbidden)
		return
	}
	p, err := o.path(key)
	if err != nil {
		http.Error(w, "bad key", http.StatusBadRequest)
		return
	}
	f, err := os.Open(p)
	if err != nil {
		http.Error(w, "no such object", http.StatusNotFound)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		http.Error(w, "no such object", http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "", fi.ModTime(), f)
}

func (o *Objects) partDir(uploadID string) (string, error) {
	if uploadID == "" || strings.ContainsAny(uploadID, "/\\.") {
		return "", fmt.Errorf("invalid multipart id %q", uploadID)
	}
	return filepath.Join(o.dir, "multipart", uploadID), nil
}

// CreateMultipart implements store.Multipart.
func (o *Objects) CreateMultipart(_ context.Context, key string) (string, error) {
	if _, err := o.path(key); err != nil {
		return "", err
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	id := hex.EncodeToString(b)
	d, _ := o.partDir(id)
	if err := os.MkdirAll(d, 0o700); err != nil {
		return "", err
	}
	return id, os.WriteFile(filepath.Join(d, "key"), []byte(key), 0o600)
}

func etag(data []byte) string {
	s := md5.Sum(data)
	return `"` + hex.EncodeToString(s[:]) + `"`
}

// UploadPart implements store.Multipart; like S3, writing a part number
// again replaces it.
func (o *Objects) UploadPart(_ context.Context, key, uploadID string, n int, data []byte) (string, error) {
	d, err := o.partDir(uploadID)
	if err != nil {
		return "", err
	}
	if k, err := os.ReadFile(filepath.Join(d, "key")); err != nil || string(k) != key {
		return "", fmt.Errorf("multipart upload %s: %w", uploadID, store.ErrNotFound)
	}
	if n < 1 || n > 10000 {
		return "", fmt.Errorf("part number %d out of range 1..10000", n)
	}
	if err := writeAtomic(filepath.Join(o.dir, "tmp"), filepath.Join(d, strconv.Itoa(n)), data); err != nil {
		return "", err
	}
	return etag(data), nil
}

// CompleteMultipart implements store.Multipart. It enforces S3's rules:
// ascending part numbers, every part but the last at least
// store.MinPartSize, and ETags that match the parts as stored.
func (o *Objects) CompleteMultipart(_ context.Context, key, uploadID string, parts []store.Part) error {
	d, err := o.partDir(uploadID)
	if err != nil {
		return err
	}
	if k, err := os.ReadFile(filepath.Join(d, "key")); err != nil || string(k) != key {
		return fmt.Errorf("multipart upload %s: %w", uploadID, store.ErrNotFound)
	}
	dst, err := o.path(key)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Join(o.dir, "tmp"), "complete-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	prev := 0
	for i, p := range parts {
		if p.Number <= prev {
			return fmt.Errorf("parts must be in ascending order")
		}
		prev = p.Number
		data, err := os.ReadFile(filepath.Join(d, strconv.Itoa(p.Number)))
		if err != nil {
			return fmt.Errorf("part %d missing: %w", p.Number, store.ErrConflict)
		}
		if etag(data) != p.ETag {
			return fmt.Errorf("part %d ETag mismatch: %w", p.Number, store.ErrConflict)
		}
		if i < len(parts)-1 && len(data) < store.MinPartSize {
			return fmt.Errorf("part %d is %d bytes, under the minimum part size", p.Number, len(data))
		}
		if _, err := tmp.Write(data); err != nil {
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return err
	}
	return os.RemoveAll(d)
}

// AbortMultipart implements store.Multipart.
func (o *Objects) AbortMultipart(_ context.Context, _, uploadID string) error {
	d, err := o.partDir(uploadID)
	if err != nil {
		return err
	}
	return os.RemoveAll(d)
}
