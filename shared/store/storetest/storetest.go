// Package storetest is the contract suite that every implementation of
// store.Metadata and store.BlobStore runs, in the style of distribution's
// storage/driver/testsuites: an implementation's test calls Metadata and
// BlobStore with a function that opens a store, and each behaviour runs as
// a named subtest.
//
// The suite never assumes a store is empty: names, digests, upload ids and
// object keys carry a random suffix per subtest, so open may return one
// shared store (a DynamoDB table or S3 bucket on an emulator, slow to
// create) as well as a fresh one per subtest.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sort"
	"testing"

	"github.com/opencontainers/go-digest"
)

// unique returns base with a random suffix that no other subtest or run
// uses; it is a valid repository name component (lower-case hex).
func unique(t *testing.T, base string) string {
	t.Helper()
	b := make([]byte, 8)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random suffix: %v", err)
	}
	return base + "-" + hex.EncodeToString(b)
}

// randomDigest returns the digest of random bytes, so blob records never
// collide across subtests sharing a store.
func randomDigest(t *testing.T) digest.Digest {
	t.Helper()
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		t.Fatalf("random digest: %v", err)
	}
	return digest.FromBytes(b)
}

// ctx returns the test's context, cancelled when the (sub)test ends.
func ctx(t *testing.T) context.Context { return t.Context() }

// must fails the test now if err is not nil.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// wantErr fails the test unless errors.Is(err, target).
func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("%s: got error %v, want errors.Is(%v)", what, err, target)
	}
}

// sorted returns a sorted copy of s (byte-wise lexical order, the order
// the listing methods promise).
func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}
