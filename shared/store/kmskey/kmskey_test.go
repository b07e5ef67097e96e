package kmskey

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/emulator"
)

// TestTokenSignedThroughKMSVerifies: on the KMS emulator, a token signed
// with an ECC_NIST_P256 key (kms:Sign of the digest) verifies with the
// public key the signer read (kms:GetPublicKey), and not with another.
func TestTokenSignedThroughKMSVerifies(t *testing.T) {
	cfg := emulator.KMSConfig(t)
	sdk, _ := emulator.KMSKey(t)
	out, err := sdk.CreateKey(t.Context(), &kms.CreateKeyInput{KeySpec: types.KeySpecEccNistP256, KeyUsage: types.KeyUsageTypeSignVerify})
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(t.Context(), Client(cfg), aws.ToString(out.KeyMetadata.Arn))
	if err != nil {
		t.Fatal(err)
	}
	iss := auth.NewIssuer(s, "berth", "svc", time.Minute)
	tok, _, err := iss.Issue(t.Context(), "dev/admin", []auth.Access{{Type: "repository", Name: "dev/app", Actions: []string{"pull"}}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := auth.NewVerifier("berth", "svc", s.Public()).Verify(tok)
	if err != nil {
		t.Fatalf("token from KMS signer does not verify: %v", err)
	}
	if !c.Allows("repository", "dev/app", "pull") || c.Subject != "dev/admin" {
		t.Fatalf("claims = %+v", c)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if _, err := auth.NewVerifier("berth", "svc", &other.PublicKey).Verify(tok); err == nil {
		t.Fatal("token verified with another key")
	}
}

// p384 answers GetPublicKey with a P-384 key, which the signer refuses.
type p384 struct{ key *ecdsa.PrivateKey }

func (f p384) GetPublicKey(context.Context, string) ([]byte, error) {
	return x509.MarshalPKIXPublicKey(&f.key.PublicKey)
}

func (f p384) SignDigest(context.Context, string, []byte) ([]byte, error) { return nil, nil }

func TestNonP256KeyRefused(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := New(context.Background(), p384{key: k}, "k"); err == nil {
		t.Fatal("P-384 key accepted")
	}
}
