package pullthrough

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
)

// Sealer encrypts upstream credentials at rest: a KMS key on AWS
// (shared/store/kmskey; the functions that only open credentials use
// shared/app/fillfn's Opener), a key file in the data directory for the
// embedded backend (shared/store/local). The context is bound to the
// ciphertext (KMS encryption context, AES-GCM additional data): sealed
// credentials copied to another rule do not open.
type Sealer interface {
	// Seal encrypts plaintext bound to context.
	Seal(ctx context.Context, plaintext []byte, context map[string]string) ([]byte, error)
	// Open decrypts what Seal made with the same context.
	Open(ctx context.Context, sealed []byte, context map[string]string) ([]byte, error)
}

// Credentials are an upstream login. They are sealed into the rule when
// written and opened only to answer an upstream's challenge; String and
// LogValue leave the password out, so no log line can carry it.
type Credentials struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// String implements fmt.Stringer without the password.
func (c Credentials) String() string { return c.Username + ":<redacted>" }

// GoString implements fmt.GoStringer without the password (%#v).
func (c Credentials) GoString() string { return "pullthrough.Credentials{" + c.String() + "}" }

// LogValue implements slog.LogValuer without the password.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// sealContext binds sealed credentials to their rule.
func sealContext(tenancy, prefix string) map[string]string {
	return map[string]string{"berth:tenancy": tenancy, "berth:cache-rule": prefix}
}

func seal(ctx context.Context, s Sealer, tenancy, prefix string, c Credentials) ([]byte, error) {
	plain, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	return s.Seal(ctx, plain, sealContext(tenancy, prefix))
}

func unseal(ctx context.Context, s Sealer, tenancy, prefix string, sealed []byte) (Credentials, error) {
	var c Credentials
	plain, err := s.Open(ctx, sealed, sealContext(tenancy, prefix))
	if err != nil {
		return c, fmt.Errorf("opening the credentials of cache rule %s: %w", prefix, err)
	}
	if err := json.Unmarshal(plain, &c); err != nil {
		return c, fmt.Errorf("the credentials of cache rule %s are not what Seal wrote", prefix)
	}
	return c, nil
}
