package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/berth-registry/berth/shared/auth"
	"github.com/berth-registry/berth/shared/config"
	"github.com/berth-registry/berth/shared/store"
)

// Bootstrap makes sure the local tenancy exists with an "admin" user in
// its administrators group, and returns that user's auth token: the one
// in BERTH_ADMIN_TOKEN, else the one kept in the data directory, else a
// new one (kept there for the next start).
func Bootstrap(ctx context.Context, cfg config.Config, ids store.Identity) (string, error) {
	now := time.Now().UTC()
	if err := ids.CreateTenancy(ctx, store.Tenancy{Name: cfg.Tenancy, Created: now}); err != nil && !errors.Is(err, store.ErrExists) {
		return "", err
	}
	if _, err := ids.GetGroup(ctx, cfg.Tenancy, auth.AdminGroup); errors.Is(err, store.ErrNotFound) {
		if err := ids.PutGroup(ctx, store.Group{Tenancy: cfg.Tenancy, Name: auth.AdminGroup, Description: "manages everything in the tenancy", Created: now}); err != nil {
			return "", err
		}
	}
	u, err := ids.GetUser(ctx, cfg.Tenancy, "admin")
	if errors.Is(err, store.ErrNotFound) {
		u = store.User{Tenancy: cfg.Tenancy, Name: "admin", Created: now}
	} else if err != nil {
		return "", err
	}
	if !contains(u.Groups, auth.AdminGroup) {
		u.Groups = append(u.Groups, auth.AdminGroup)
		if err := ids.PutUser(ctx, u); err != nil {
			return "", err
		}
	}
	token := cfg.AdminToken
	file := filepath.Join(cfg.Data, "admin-token")
	if token == "" && cfg.Backend == "embedded" {
		if b, err := os.ReadFile(file); err == nil {
			token = strings.TrimSpace(string(b))
		}
	}
	if token == "" {
		var id string
		var hash []byte
		id, token, hash = auth.NewAuthToken()
		if err := ids.PutToken(ctx, store.AuthToken{Tenancy: cfg.Tenancy, User: "admin", ID: id, Description: "bootstrap", Hash: hash, Created: now}); err != nil {
			return "", err
		}
		if cfg.Backend == "embedded" {
			if err := os.WriteFile(file, []byte(token+"\n"), 0o600); err != nil {
				return "", err
			}
		}
		return token, nil
	}
	id, secret, ok := auth.ParseAuthToken(token)
	if !ok {
		return "", fmt.Errorf("BERTH_ADMIN_TOKEN is not an auth token (bt_<16 chars>_<32 chars>); unset it to have one generated")
	}
	if t, err := ids.GetToken(ctx, cfg.Tenancy, "admin", id); err == nil && auth.SecretMatches(t.Hash, secret) && !t.Revoked {
		return token, nil
	}
	return token, ids.PutToken(ctx, store.AuthToken{Tenancy: cfg.Tenancy, User: "admin", ID: id, Description: "bootstrap", Hash: auth.HashSecret(secret), Created: now})
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
