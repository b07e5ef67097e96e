package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"strings"
)

// Auth tokens look like "bt_<id>_<secret>": the id finds the stored
// record without a scan, the secret (160 random bits) is checked against
// its SHA-256. A fast hash is right here: the secret is random, not a
// person's password, so there is nothing to brute-force.
const tokenPrefix = "bt_"

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToLower(b32.EncodeToString(b))
}

// NewAuthToken returns a new token's id, the full secret string to show
// the user once, and the hash to store.
func NewAuthToken() (id, secret string, hash []byte) {
	id = randomString(10)
	s := randomString(20)
	return id, tokenPrefix + id + "_" + s, HashSecret(s)
}

// ParseAuthToken splits a presented token into id and secret part.
func ParseAuthToken(token string) (id, secret string, ok bool) {
	rest, ok := strings.CutPrefix(token, tokenPrefix)
	if !ok {
		return "", "", false
	}
	id, secret, ok = strings.Cut(rest, "_")
	if !ok || len(id) != 16 || len(secret) != 32 || !base32Lower(id) || !base32Lower(secret) {
		return "", "", false
	}
	return id, secret, true
}

// ValidTokenID reports whether id is an auth token id as NewAuthToken
// makes them (16 characters of lower-case base32): the only ids the
// store is ever asked for.
func ValidTokenID(id string) bool { return len(id) == 16 && base32Lower(id) }

// base32Lower reports whether s is all lower-case base32 (a-z, 2-7).
func base32Lower(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// HashSecret is the stored form of a token's secret part.
func HashSecret(secret string) []byte {
	s := sha256.Sum256([]byte(secret))
	return s[:]
}

// SecretMatches compares a presented secret with a stored hash in
// constant time.
func SecretMatches(hash []byte, secret string) bool {
	return subtle.ConstantTimeCompare(hash, HashSecret(secret)) == 1
}
