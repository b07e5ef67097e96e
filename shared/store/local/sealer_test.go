package local_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/berth-registry/berth/shared/store/local"
)

func TestSealerKeepsItsKeyAndBindsTheContext(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "cache-credentials.key")
	s, err := local.OpenSealer(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 || fi.Size() != 32 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	secret := []byte("hunter2-upstream-secret")
	bound := map[string]string{"berth:tenancy": "dev", "berth:cache-rule": "dev/hub"}
	sealed, err := s.Seal(t.Context(), secret, bound)
	if err != nil || bytes.Contains(sealed, secret) {
		t.Fatalf("Seal: %v (plaintext inside: %v)", err, bytes.Contains(sealed, secret))
	}
	again, err := local.OpenSealer(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := again.Open(t.Context(), sealed, bound); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("reopened key: Open = %q, %v", got, err)
	}
	if _, err := again.Open(t.Context(), sealed, map[string]string{"berth:tenancy": "dev", "berth:cache-rule": "dev/other"}); err == nil {
		t.Fatal("sealed for dev/hub, opened for dev/other")
	}
	other, err := local.OpenSealer(filepath.Join(t.TempDir(), "k"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Open(t.Context(), sealed, bound); err == nil {
		t.Fatal("opened with another key")
	}
}
