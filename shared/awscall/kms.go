package awscall

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// KMS calls AWS KMS (awsJson1_1: POST /, X-Amz-Target
// TrentService.<operation>): Decrypt and Encrypt with a symmetric key,
// GetPublicKey and Sign with an asymmetric one.
type KMS struct{ c *client }

// NewKMS returns a KMS caller with cfg's region and credentials, at the
// endpoint the environment names for KMS (AWS_ENDPOINT_URL_KMS), else
// https://kms.<region>.amazonaws.com.
func NewKMS(cfg aws.Config) *KMS { return &KMS{c: newClient(cfg, "kms")} }

// Decrypt opens ciphertext sealed by kms:Encrypt with the key keyID (an
// id, ARN or alias; a ciphertext of another key is refused) and the
// same encryption context. A refusal is an *Error, e.g.
// InvalidCiphertextException for another context.
func (k *KMS) Decrypt(ctx context.Context, keyID string, ciphertext []byte, encryptionContext map[string]string) ([]byte, error) {
	var out struct{ Plaintext []byte }
	err := k.call(ctx, "Decrypt", struct {
		CiphertextBlob    []byte
		KeyId             string            `json:",omitempty"`
		EncryptionContext map[string]string `json:",omitempty"`
	}{ciphertext, keyID, encryptionContext}, &out)
	if err == nil && out.Plaintext == nil {
		return nil, fmt.Errorf("kms Decrypt: the answer holds no plaintext")
	}
	return out.Plaintext, err
}

// Encrypt seals plaintext (at most 4 KiB) with the symmetric key keyID,
// bound to the encryption context.
func (k *KMS) Encrypt(ctx context.Context, keyID string, plaintext []byte, encryptionContext map[string]string) ([]byte, error) {
	var out struct{ CiphertextBlob []byte }
	err := k.call(ctx, "Encrypt", struct {
		KeyId             string
		Plaintext         []byte
		EncryptionContext map[string]string `json:",omitempty"`
	}{keyID, plaintext, encryptionContext}, &out)
	if err == nil && out.CiphertextBlob == nil {
		return nil, fmt.Errorf("kms Encrypt: the answer holds no ciphertext")
	}
	return out.CiphertextBlob, err
}

// GetPublicKey returns the public half of the asymmetric key keyID, DER
// (a SubjectPublicKeyInfo, as x509.ParsePKIXPublicKey reads it).
func (k *KMS) GetPublicKey(ctx context.Context, keyID string) ([]byte, error) {
	var out struct{ PublicKey []byte }
	err := k.call(ctx, "GetPublicKey", struct{ KeyId string }{keyID}, &out)
	if err == nil && out.PublicKey == nil {
		return nil, fmt.Errorf("kms GetPublicKey: the answer holds no public key")
	}
	return out.PublicKey, err
}

// SignDigest signs a SHA-256 digest with the ECC_NIST_P256 key keyID
// (ECDSA_SHA_256, message type DIGEST) and returns KMS's ASN.1 DER
// signature.
func (k *KMS) SignDigest(ctx context.Context, keyID string, digest []byte) ([]byte, error) {
	var out struct{ Signature []byte }
	err := k.call(ctx, "Sign", struct {
		KeyId            string
		Message          []byte
		MessageType      string
		SigningAlgorithm string
	}{keyID, digest, "DIGEST", "ECDSA_SHA_256"}, &out)
	if err == nil && out.Signature == nil {
		return nil, fmt.Errorf("kms Sign: the answer holds no signature")
	}
	return out.Signature, err
}

// call sends one operation with in as its JSON body ([]byte fields
// marshal as base64, as the protocol's blobs are) and reads the answer
// into out.
func (k *KMS) call(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return err
	}
	h := http.Header{}
	h.Set("Content-Type", "application/x-amz-json-1.1")
	h.Set("X-Amz-Target", "TrentService."+op)
	b, err := k.c.do(ctx, op, "/", h, body, http.StatusOK)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("kms %s: the answer is not KMS's: %w", op, err)
	}
	return nil
}
