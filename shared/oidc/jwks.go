package oidc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
)

// jwk is one usable key of a JWK set.
type jwk struct {
	key any
	// alg is the key's own "alg" ("" when it names none).
	alg string
}

// allows reports whether the key may verify a token signed with alg.
func (k jwk) allows(alg string) bool {
	return (k.alg == "" || k.alg == alg) && compatible(k.key, alg)
}

// maxKeys bounds the keys read from one set.
const maxKeys = 100

// minRSABits refuses weak RSA keys.
const minRSABits = 2048

// parseJWKS reads a JWK set (RFC 7517 §5), keeping the RSA and P-256
// keys meant for signatures and skipping the rest (other key types,
// encryption keys, keys for other algorithms), keyed by "kid" (keys
// without one are kept under "", reachable only by a token without a
// kid when they are the only key for its algorithm).
func parseJWKS(b []byte) (map[string]jwk, error) {
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			Alg string `json:"alg"`
			N   string `json:"n"`
			E   string `json:"e"`
			Crv string `json:"crv"`
			X   string `json:"x"`
			Y   string `json:"y"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		return nil, fmt.Errorf("JWK set is not JSON: %v", err)
	}
	if len(set.Keys) > maxKeys {
		return nil, fmt.Errorf("JWK set holds %d keys, more than %d", len(set.Keys), maxKeys)
	}
	out := map[string]jwk{}
	for _, k := range set.Keys {
		if (k.Use != "" && k.Use != "sig") || (k.Alg != "" && k.Alg != "RS256" && k.Alg != "ES256") {
			continue
		}
		var key any
		var err error
		switch k.Kty {
		case "RSA":
			key, err = rsaKey(k.N, k.E)
		case "EC":
			if k.Crv != "P-256" {
				continue
			}
			key, err = p256Key(k.X, k.Y)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("key %q: %v", k.Kid, err)
		}
		if _, dup := out[k.Kid]; dup {
			// Two keys under one id: which one signed is ambiguous.
			return nil, fmt.Errorf("key id %q appears twice", k.Kid)
		}
		out[k.Kid] = jwk{key: key, alg: k.Alg}
	}
	return out, nil
}

func b64(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

func rsaKey(n, e string) (*rsa.PublicKey, error) {
	nb, err := b64(n)
	if err != nil || len(nb) == 0 {
		return nil, fmt.Errorf("bad RSA modulus")
	}
	eb, err := b64(e)
	if err != nil || len(eb) == 0 || len(eb) > 4 {
		return nil, fmt.Errorf("bad RSA exponent")
	}
	mod := new(big.Int).SetBytes(nb)
	exp := int(new(big.Int).SetBytes(eb).Int64())
	if mod.BitLen() < minRSABits {
		return nil, fmt.Errorf("RSA key of %d bits, fewer than %d", mod.BitLen(), minRSABits)
	}
	if exp < 3 || exp%2 == 0 {
		return nil, fmt.Errorf("bad RSA exponent %d", exp)
	}
	return &rsa.PublicKey{N: mod, E: exp}, nil
}

// p256Key builds a P-256 key, refusing a point not on the curve.
func p256Key(x, y string) (*ecdsa.PublicKey, error) {
	xb, err1 := b64(x)
	yb, err2 := b64(y)
	if err1 != nil || err2 != nil || len(xb) != 32 || len(yb) != 32 {
		return nil, fmt.Errorf("bad P-256 coordinates")
	}
	k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, xb...), yb...))
	if err != nil {
		return nil, fmt.Errorf("bad P-256 key: %v", err)
	}
	return k, nil
}
