// Package kmskey keeps Berth's keys in AWS KMS. The registry-token
// signing key is an asymmetric ECC_NIST_P256 key whose private half
// never leaves KMS: the token function signs through kms:Sign; the
// authorizer fetches the public key once per execution environment, on
// its first request (kms:GetPublicKey, shared/app/authfn), and verifies
// locally, so checking a token costs no KMS call. A symmetric key seals
// the pull-through cache's upstream credentials (Sealer). It lives
// beside the other AWS stores because, like them, it is where a secret
// is kept.
package kmskey

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/awsenv"
)

// Client returns a KMS client with the SDK configuration awsCfg, at the
// endpoint awsenv.Endpoint names for KMS when one is set (an emulator).
func Client(awsCfg aws.Config) *kms.Client {
	return kms.NewFromConfig(awsCfg, func(o *kms.Options) {
		if ep := awsenv.Endpoint("KMS"); ep != nil {
			o.BaseEndpoint = ep
		}
	})
}

// API is the part of the KMS client the signer uses.
type API interface {
	GetPublicKey(ctx context.Context, in *kms.GetPublicKeyInput, opts ...func(*kms.Options)) (*kms.GetPublicKeyOutput, error)
	Sign(ctx context.Context, in *kms.SignInput, opts ...func(*kms.Options)) (*kms.SignOutput, error)
}

// Signer implements auth.Signer with a KMS key.
type Signer struct {
	api   API
	keyID string
	pub   *ecdsa.PublicKey
}

var _ auth.Signer = (*Signer)(nil)

// New reads the key's public half; keyID is a key id, ARN or alias.
func New(ctx context.Context, api API, keyID string) (*Signer, error) {
	out, err := api.GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(keyID)})
	if err != nil {
		return nil, fmt.Errorf("kms GetPublicKey %s: %w", keyID, err)
	}
	k, err := x509.ParsePKIXPublicKey(out.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("parse KMS public key: %w", err)
	}
	pub, ok := k.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, errors.New("the signing key must be a KMS ECC_NIST_P256 key")
	}
	return &Signer{api: api, keyID: keyID, pub: pub}, nil
}

// Public implements auth.Signer.
func (s *Signer) Public() *ecdsa.PublicKey { return s.pub }

// SignDigest implements auth.Signer: KMS returns an ASN.1 DER signature.
func (s *Signer) SignDigest(ctx context.Context, digest []byte) ([]byte, error) {
	out, err := s.api.Sign(ctx, &kms.SignInput{
		KeyId:            aws.String(s.keyID),
		Message:          digest,
		MessageType:      types.MessageTypeDigest,
		SigningAlgorithm: types.SigningAlgorithmSpecEcdsaSha256,
	})
	if err != nil {
		return nil, fmt.Errorf("kms Sign: %w", err)
	}
	return out.Signature, nil
}

// CipherAPI is the part of the KMS client a Sealer uses.
type CipherAPI interface {
	Encrypt(ctx context.Context, in *kms.EncryptInput, opts ...func(*kms.Options)) (*kms.EncryptOutput, error)
	Decrypt(ctx context.Context, in *kms.DecryptInput, opts ...func(*kms.Options)) (*kms.DecryptOutput, error)
}

// Sealer encrypts small secrets (a pull-through cache's upstream
// credentials, at most 4 KiB) with a symmetric KMS key: the ciphertext
// is stored, and only a function granted kms:Decrypt on the key reads
// the secret, each time in CloudTrail. The context is KMS's encryption
// context, so a secret sealed for one rule does not open for another.
type Sealer struct {
	api   CipherAPI
	keyID string
}

// NewSealer returns a Sealer with the key keyID (an id, ARN or alias).
func NewSealer(api CipherAPI, keyID string) *Sealer { return &Sealer{api: api, keyID: keyID} }

// Seal encrypts plaintext bound to context (kms:Encrypt).
func (s *Sealer) Seal(ctx context.Context, plaintext []byte, context map[string]string) ([]byte, error) {
	out, err := s.api.Encrypt(ctx, &kms.EncryptInput{KeyId: aws.String(s.keyID), Plaintext: plaintext, EncryptionContext: context})
	if err != nil {
		return nil, fmt.Errorf("kms Encrypt: %w", err)
	}
	return out.CiphertextBlob, nil
}

// Open decrypts what Seal made with the same context (kms:Decrypt, with
// the key named so that a ciphertext of another key is refused).
func (s *Sealer) Open(ctx context.Context, sealed []byte, context map[string]string) ([]byte, error) {
	out, err := s.api.Decrypt(ctx, &kms.DecryptInput{KeyId: aws.String(s.keyID), CiphertextBlob: sealed, EncryptionContext: context})
	if err != nil {
		return nil, fmt.Errorf("kms Decrypt: %w", err)
	}
	return out.Plaintext, nil
}
