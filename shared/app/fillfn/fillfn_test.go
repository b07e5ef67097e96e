package fillfn_test

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"testing"

	"github.com/berth-registry/berth/shared/app"
	"github.com/berth-registry/berth/shared/app/adminfn"
	"github.com/berth-registry/berth/shared/app/fillfn"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/emulator"
)

// TestOpenerOpensWhatAdminSealed: on the KMS emulator, with the key the
// stack gives both functions (BERTH_CACHE_KEY_ID), what the admin
// function's sealer (shared/store/kmskey) seals, the filling functions'
// Opener (shared/awscall) opens, with the same context only; the Opener
// refuses to seal.
func TestOpenerOpensWhatAdminSealed(t *testing.T) {
	t.Setenv("AWS_ENDPOINT_URL_KMS", emulator.KMS(t))
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_ACCESS_KEY_ID", "test")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "test")
	_, key := emulator.KMSKey(t)
	env := app.NewEnv(config.Config{CacheKeyID: key}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	sealer, err := adminfn.Sealer(t.Context(), env)
	if err != nil {
		t.Fatal(err)
	}
	opener, err := fillfn.Opener(t.Context(), env)
	if err != nil {
		t.Fatal(err)
	}
	secret := []byte(`{"username":"bot","password":"hunter2"}`)
	bound := map[string]string{"berth:tenancy": "dev", "berth:cache-rule": "dev/hub"}
	sealed, err := sealer.Seal(t.Context(), secret, bound)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := opener.Open(t.Context(), sealed, bound); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := opener.Open(t.Context(), sealed, map[string]string{"berth:tenancy": "dev", "berth:cache-rule": "dev/other"}); err == nil {
		t.Fatal("credentials sealed for dev/hub opened for dev/other")
	}
	if _, err := opener.Seal(t.Context(), secret, bound); !errors.Is(err, fillfn.ErrNoSealing) {
		t.Fatalf("Opener.Seal: %v, want ErrNoSealing", err)
	}
}

// TestNoKeyNoOpener: without BERTH_CACHE_KEY_ID there is nothing to open
// credentials with (rules with credentials cannot be used), and no
// error: a cache of anonymous upstreams works.
func TestNoKeyNoOpener(t *testing.T) {
	o, err := fillfn.Opener(t.Context(), app.NewEnv(config.Config{}, slog.New(slog.NewTextHandler(io.Discard, nil))))
	if o != nil || err != nil {
		t.Fatalf("Opener = %v, %v", o, err)
	}
}
