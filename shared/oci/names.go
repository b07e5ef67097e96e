// Package oci holds the distribution-spec's grammar and content model:
// repository names, tags, digests, media types and manifest parsing. It is
// plain Go with no storage or AWS in it.
package oci

import (
	"crypto"
	_ "crypto/sha256" // registers sha256 for go-digest
	_ "crypto/sha512" // registers sha512 for go-digest
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
)

// The grammars below are matched by hand rather than by regexp: every
// function's cold start would otherwise compile them (about 0.9 ms of
// package init, docs/lambda-mode.md). fuzz_test.go checks each against
// the spec's regular expression.

// nameComponent reports whether c is one path component of a repository
// name, `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` (distribution-spec, "Pulling
// manifests").
func nameComponent(c string) bool {
	i := 0
	for {
		start := i
		for i < len(c) && (c[i] >= 'a' && c[i] <= 'z' || c[i] >= '0' && c[i] <= '9') {
			i++
		}
		if i == start {
			return false // a separator at the start or end, or two in a row
		}
		if i == len(c) {
			return true
		}
		switch {
		case c[i] == '.':
			i++
		case c[i] == '_':
			i++
			if i < len(c) && c[i] == '_' {
				i++
			}
		case c[i] == '-':
			for i < len(c) && c[i] == '-' {
				i++
			}
		default:
			return false
		}
	}
}

// tagChar reports whether b may appear in a tag after its first byte.
func tagChar(b byte) bool {
	return b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '_' || b == '.' || b == '-'
}

// MaxNameLength is the longest repository name accepted; the spec asks
// registries to accept at least 255 characters including a hostname.
const MaxNameLength = 255

// MaxComponents is the most slash-separated components a repository name
// may have. The spec sets no limit; Berth's API Gateway routes expand
// each route shape once per name depth (shared/route), so a deeper name
// cannot be routed.
const MaxComponents = 8

// ValidName reports whether name is a repository name the registry
// serves: the spec's grammar, at most MaxNameLength bytes and
// MaxComponents components.
func ValidName(name string) error {
	if name == "" || len(name) > MaxNameLength {
		return fmt.Errorf("repository name must be 1 to %d characters", MaxNameLength)
	}
	cs := strings.Split(name, "/")
	for _, c := range cs {
		if c == "" {
			return fmt.Errorf("repository name %q has an empty component (two slashes in a row, or one at an end)", name)
		}
		if !nameComponent(c) {
			return fmt.Errorf("repository name component %q must match [a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*", c)
		}
	}
	if len(cs) > MaxComponents {
		return fmt.Errorf("repository name %q has %d components; Berth serves names of at most %d components (an API Gateway route limit)", name, len(cs), MaxComponents)
	}
	return nil
}

// ValidTag reports whether tag matches the spec's tag grammar,
// `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`.
func ValidTag(tag string) bool {
	if tag == "" || len(tag) > 128 || tag[0] == '.' || tag[0] == '-' {
		return false
	}
	for i := 0; i < len(tag); i++ {
		if !tagChar(tag[i]) {
			return false
		}
	}
	return true
}

// IsDigest reports whether a reference looks like a digest rather than a
// tag (tags cannot contain ':').
func IsDigest(ref string) bool { return strings.Contains(ref, ":") }

// ParseDigest parses and validates a digest whose algorithm the registry
// supports (sha256 and sha512).
func ParseDigest(s string) (digest.Digest, error) {
	d, err := digest.Parse(s)
	if err != nil {
		return "", fmt.Errorf("invalid digest %q: %v", s, err)
	}
	switch d.Algorithm() {
	case digest.SHA256, digest.SHA512:
		return d, nil
	}
	return "", fmt.Errorf("digest algorithm %q is not supported (use sha256 or sha512)", d.Algorithm())
}

// Hashes lists the algorithms a blob upload may be committed with (the
// registry keeps what it needs to check either; sha256 is hashed as
// bytes stream in, the others as they are written).
var Hashes = []digest.Algorithm{digest.SHA256, digest.SHA512}

// HashFor returns the crypto hash for a supported algorithm.
func HashFor(a digest.Algorithm) crypto.Hash {
	if a == digest.SHA512 {
		return crypto.SHA512
	}
	return crypto.SHA256
}
