package kmskey_test

import (
	"bytes"
	"testing"

	"github.com/berth-registry/berth/shared/emulator"
	"github.com/berth-registry/berth/shared/store/kmskey"
)

// TestSealerOnLocalKMS seals and opens with a symmetric key in the KMS
// emulator: the ciphertext opens only with the context it was sealed
// with, and holds no plaintext.
func TestSealerOnLocalKMS(t *testing.T) {
	cfg := emulator.KMSConfig(t)
	_, key := emulator.KMSKey(t)
	s := kmskey.NewSealer(kmskey.Client(cfg), key)
	secret := []byte(`{"username":"bot","password":"hunter2-upstream-secret"}`)
	bound := map[string]string{"berth:tenancy": "dev", "berth:cache-rule": "dev/hub"}
	sealed, err := s.Seal(t.Context(), secret, bound)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("hunter2")) {
		t.Fatal("the sealed credentials hold the password in clear")
	}
	got, err := s.Open(t.Context(), sealed, bound)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := s.Open(t.Context(), sealed, map[string]string{"berth:tenancy": "dev", "berth:cache-rule": "dev/other"}); err == nil {
		t.Fatal("credentials sealed for dev/hub opened for dev/other")
	}
}
