package kmskey

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/berth-registry/berth/shared/auth"
)

// fakeKMS answers as KMS does for an ECC_NIST_P256 key: a DER public key
// and DER ECDSA signatures over a given digest. (No KMS emulator runs
// here; this checks our encoding, not AWS's authorization.)
type fakeKMS struct {
	key  *ecdsa.PrivateKey
	seen *kms.SignInput
}

func (f *fakeKMS) GetPublicKey(_ context.Context, _ *kms.GetPublicKeyInput, _ ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error) {
	der, err := x509.MarshalPKIXPublicKey(&f.key.PublicKey)
	return &kms.GetPublicKeyOutput{PublicKey: der}, err
}

func (f *fakeKMS) Sign(_ context.Context, in *kms.SignInput, _ ...func(*kms.Options)) (*kms.SignOutput, error) {
	f.seen = in
	sig, err := ecdsa.SignASN1(rand.Reader, f.key, in.Message)
	return &kms.SignOutput{Signature: sig}, err
}

func TestTokenSignedThroughKMSVerifies(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	f := &fakeKMS{key: k}
	s, err := New(context.Background(), f, "alias/berth")
	if err != nil {
		t.Fatal(err)
	}
	iss := auth.NewIssuer(s, "berth", "svc", time.Minute)
	tok, _, err := iss.Issue(context.Background(), "dev/admin", []auth.Access{{Type: "repository", Name: "dev/app", Actions: []string{"pull"}}})
	if err != nil {
		t.Fatal(err)
	}
	if f.seen.MessageType != types.MessageTypeDigest || f.seen.SigningAlgorithm != types.SigningAlgorithmSpecEcdsaSha256 || len(f.seen.Message) != 32 {
		t.Fatalf("Sign called with %+v", f.seen)
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

func TestNonP256KeyRefused(t *testing.T) {
	k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if _, err := New(context.Background(), &fakeKMS{key: k}, "k"); err == nil {
		t.Fatal("P-384 key accepted")
	}
}
