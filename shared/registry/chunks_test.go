package registry

import (
	"bytes"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
)

// TestHashStatesResume: chunks fed in turn through saved states give
// the digest of the whole, for the sha256 kept over every byte and the
// sha512 kept over the bytes written as parts.
func TestHashStatesResume(t *testing.T) {
	var whole []byte
	var u store.Upload
	for i, n := range []int{10, 256 << 10, 3 << 20, 7, 1} {
		chunk := bytes.Repeat([]byte{byte(i + 1)}, n)
		whole = append(whole, chunk...)
		if err := hashInto(&u, chunk); err != nil {
			t.Fatal(err)
		}
		if err := partHash(&u, chunk); err != nil {
			t.Fatal(err)
		}
	}
	got, err := sum(u.Hashes, digest.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	if want := digest.SHA256.FromBytes(whole); got != want {
		t.Errorf("sha256: %s, want %s", got, want)
	}
	h, err := restoreKey(u.Hashes, digest.SHA512, partKey(digest.SHA512))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := digest.NewDigest(digest.SHA512, h), digest.SHA512.FromBytes(whole); got != want {
		t.Errorf("sha512 over parts: %s, want %s", got, want)
	}
	if _, ok := u.Hashes[digest.SHA512.String()]; ok {
		t.Error("hashInto kept a sha512 state over every byte: a sha256 push pays for it")
	}
}
