package awscall_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/berth-registry/berth/shared/awscall"
	"github.com/berth-registry/berth/shared/emulator"
)

// TestDecryptOpensWhatTheSDKSealed: on the KMS emulator, what the SDK's
// KMS client encrypts (as the admin function seals a rule's credentials)
// opens through awscall with the same key and context, and not with
// another context or key; refusals are *Error with KMS's code.
func TestDecryptOpensWhatTheSDKSealed(t *testing.T) {
	cfg := emulator.KMSConfig(t)
	sdk, key := emulator.KMSKey(t)
	_, other := emulator.KMSKey(t)
	secret := []byte(`{"username":"bot","password":"hunter2-upstream-secret"}`)
	bound := map[string]string{"berth:tenancy": "dev", "berth:cache-rule": "dev/hub"}
	sealed, err := sdk.Encrypt(t.Context(), &kms.EncryptInput{KeyId: aws.String(key), Plaintext: secret, EncryptionContext: bound})
	if err != nil {
		t.Fatal(err)
	}
	k := awscall.NewKMS(cfg)
	got, err := k.Decrypt(t.Context(), key, sealed.CiphertextBlob, bound)
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Decrypt = %q, %v", got, err)
	}
	var e *awscall.Error
	_, err = k.Decrypt(t.Context(), key, sealed.CiphertextBlob, map[string]string{"berth:tenancy": "dev", "berth:cache-rule": "dev/other"})
	if !errors.As(err, &e) || e.Code != "InvalidCiphertextException" || e.Status != 400 {
		t.Fatalf("Decrypt with another context: %v", err)
	}
	// KMS answers IncorrectKeyException, local-kms InvalidCiphertextException.
	_, err = k.Decrypt(t.Context(), other, sealed.CiphertextBlob, bound)
	if !errors.As(err, &e) || (e.Code != "IncorrectKeyException" && e.Code != "InvalidCiphertextException") || e.Status != 400 {
		t.Fatalf("Decrypt naming another key: %v", err)
	}
}

// TestEncryptSealsWhatTheSDKOpens: what awscall encrypts (as the admin
// function seals a rule's credentials) the SDK's KMS client decrypts
// with the same context, on the KMS emulator.
func TestEncryptSealsWhatTheSDKOpens(t *testing.T) {
	cfg := emulator.KMSConfig(t)
	sdk, key := emulator.KMSKey(t)
	secret := []byte("hunter2-upstream-secret")
	bound := map[string]string{"berth:tenancy": "dev", "berth:cache-rule": "dev/hub"}
	sealed, err := awscall.NewKMS(cfg).Encrypt(t.Context(), key, secret, bound)
	if err != nil || bytes.Contains(sealed, secret) {
		t.Fatalf("Encrypt = %q, %v", sealed, err)
	}
	out, err := sdk.Decrypt(t.Context(), &kms.DecryptInput{KeyId: aws.String(key), CiphertextBlob: sealed, EncryptionContext: bound})
	if err != nil || !bytes.Equal(out.Plaintext, secret) {
		t.Fatalf("SDK Decrypt = %v, %v", out, err)
	}
}
