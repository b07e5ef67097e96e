package auth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// TestVerifyCacheRefusesWhatTheFullCheckRefuses: a token verified (and
// so cached) does not make a tampered copy of it, or the same token
// past its expiry or before its not-before, acceptable.
func TestVerifyCacheRefusesWhatTheFullCheckRefuses(t *testing.T) {
	key := testKey(t)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	iss := NewIssuer(KeySigner{key}, "berth", "registry", time.Minute).WithClock(func() time.Time { return now })
	tok, _, err := iss.Issue(context.Background(), "dev/admin", pullApp)
	if err != nil {
		t.Fatal(err)
	}
	at := now
	v := NewVerifier("berth", "registry", &key.PublicKey).WithClock(func() time.Time { return at })
	if _, err := v.Verify(tok); err != nil {
		t.Fatalf("fresh token refused: %v", err)
	}
	if v.cache.len() != 1 {
		t.Fatalf("cache holds %d tokens after one verification, want 1", v.cache.len())
	}
	sig := tok[strings.LastIndex(tok, ".")+1:]
	for name, bad := range map[string]string{
		"signature flipped": tok[:len(tok)-len(sig)] + flip(sig),
		"claims edited":     tamper(t, tok, func(m map[string]any) { m["sub"] = "dev/other" }),
		"trailing byte":     tok + "A",
	} {
		if _, err := v.Verify(bad); err == nil {
			t.Errorf("%s: accepted while the original is cached", name)
		}
	}
	for _, tc := range []struct {
		at   time.Duration
		want bool
	}{
		{30 * time.Second, true},
		{time.Minute, false}, // exp is exclusive, as jwt checks it
		{-2 * time.Minute, false},
		{-time.Minute, true}, // nbf is a minute back
	} {
		at = now.Add(tc.at)
		_, err := v.Verify(tok)
		if got := err == nil; got != tc.want {
			t.Errorf("cached token at issue%+v: accepted = %v, want %v (%v)", tc.at, got, tc.want, err)
		}
	}
	// Only successes are kept.
	if v.cache.len() != 1 {
		t.Errorf("cache holds %d tokens, want only the one that verified", v.cache.len())
	}
}

// TestVerifyReturnsTheCallersOwnClaims: editing what Verify returned
// does not change what the next caller of the same token gets.
func TestVerifyReturnsTheCallersOwnClaims(t *testing.T) {
	key := testKey(t)
	v := NewVerifier("berth", "registry", &key.PublicKey)
	tok := signWith(t, SigningMethod, key, KeyID(&key.PublicKey), validClaims(time.Now()))
	c1, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	c1.Subject = "dev/mallory"
	c2, err := v.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Subject != "dev/admin" {
		t.Errorf("second Verify's subject %q, want dev/admin", c2.Subject)
	}
}

// TestVerifyCacheIsBounded: however many tokens verify, the cache holds
// at most verifiedCap, dropping expired ones first.
func TestVerifyCacheIsBounded(t *testing.T) {
	c := newVerified()
	now := time.Now()
	claims := func(exp time.Time) *Claims {
		return &Claims{RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(exp)}}
	}
	key := func(i int) [sha256.Size]byte { return sha256.Sum256([]byte{byte(i), byte(i >> 8), byte(i >> 16)}) }
	for i := range verifiedCap {
		exp := now.Add(time.Minute)
		if i%2 == 0 {
			exp = now.Add(-time.Second) // expired
		}
		c.put(key(i), claims(exp), now)
	}
	c.put(key(verifiedCap), claims(now.Add(time.Minute)), now)
	if n := c.len(); n != verifiedCap/2+1 {
		t.Errorf("after expired entries were dropped: %d cached, want %d", n, verifiedCap/2+1)
	}
	for i := range 3 * verifiedCap {
		c.put(key(verifiedCap+1+i), claims(now.Add(time.Minute)), now)
		if n := c.len(); n > verifiedCap {
			t.Fatalf("%d cached, above the cap %d", n, verifiedCap)
		}
	}
	if _, ok := c.get(key(4*verifiedCap), now); !ok {
		t.Error("the newest token is not cached")
	}
}

// BenchmarkVerify: a token's first check (ECDSA and JWT decoding) and
// its later ones (the cache).
func BenchmarkVerify(b *testing.B) {
	pemBytes, _ := NewSigningKey()
	key, _ := ParseSigningKey(pemBytes)
	iss := NewIssuer(KeySigner{key}, "berth", "registry", 5*time.Minute)
	tok, _, err := iss.Issue(context.Background(), "dev/admin", pullApp)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("first", func(b *testing.B) {
		v := NewVerifier("berth", "registry", &key.PublicKey)
		for b.Loop() {
			if _, err := v.verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("cached", func(b *testing.B) {
		v := NewVerifier("berth", "registry", &key.PublicKey)
		for b.Loop() {
			if _, err := v.Verify(tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestVerifyConcurrently: one verifier checks tokens from many
// goroutines at once (the authorizer serves concurrent requests in
// berth serve), each getting its own token's claims.
func TestVerifyConcurrently(t *testing.T) {
	key := testKey(t)
	iss := NewIssuer(KeySigner{key}, "berth", "registry", time.Minute)
	v := NewVerifier("berth", "registry", &key.PublicKey)
	toks := make([]string, 8)
	for i := range toks {
		tok, _, err := iss.Issue(context.Background(), fmt.Sprintf("dev/u%d", i), pullApp)
		if err != nil {
			t.Fatal(err)
		}
		toks[i] = tok
	}
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			for i := range 50 {
				k := (g + i) % len(toks)
				c, err := v.Verify(toks[k])
				if err != nil || c.Subject != fmt.Sprintf("dev/u%d", k) {
					t.Errorf("token %d: %v, %v", k, c, err)
					return
				}
			}
		})
	}
	wg.Wait()
}
