package registry

import (
	"bytes"
	"testing"

	"github.com/berth-registry/berth/shared/oci"
	"github.com/berth-registry/berth/shared/store"
)

// TestHashIntoResumesEveryDigest: chunks below and above the size from
// which the algorithms hash side by side, fed in turn through saved
// states, give the digests of the whole.
func TestHashIntoResumesEveryDigest(t *testing.T) {
	var whole []byte
	var u store.Upload
	for i, n := range []int{10, parallelHashSize, 3 * parallelHashSize, 7, parallelHashSize - 1} {
		chunk := bytes.Repeat([]byte{byte(i + 1)}, n)
		whole = append(whole, chunk...)
		if err := hashInto(&u, chunk); err != nil {
			t.Fatal(err)
		}
	}
	for _, alg := range oci.Hashes {
		got, err := sum(u.Hashes, alg)
		if err != nil {
			t.Fatal(err)
		}
		if want := alg.FromBytes(whole); got != want {
			t.Errorf("%s: %s, want %s", alg, got, want)
		}
	}
}
