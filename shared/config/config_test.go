package config

import (
	"strings"
	"testing"
	"time"
)

func TestFromEnvDefaults(t *testing.T) {
	for _, k := range []string{"BERTH_BACKEND", "BERTH_DATA", "BERTH_ADDR", "BERTH_LIMITS", "BERTH_AUTH", "BERTH_PRESIGN_TTL", "BERTH_TOKEN_TTL", "BERTH_TENANCY", "BERTH_SERVICE"} {
		t.Setenv(k, "")
	}
	c, err := FromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if c.Backend != "embedded" || c.Data != ".berth" || c.Addr != "127.0.0.1:5000" || !c.Limits || !c.Auth ||
		c.PresignTTL != 15*time.Minute || c.TokenTTL != 5*time.Minute || c.Tenancy != "dev" || c.Service != "berth" {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestFromEnvRefusesInvalidValues(t *testing.T) {
	for _, tc := range []struct{ env, value, want string }{
		{"BERTH_LIMITS", "sometimes", "BERTH_LIMITS"},
		{"BERTH_AUTH", "yes", "BERTH_AUTH"},
		{"BERTH_PRESIGN_TTL", "-1m", "BERTH_PRESIGN_TTL"},
		{"BERTH_TOKEN_TTL", "soon", "BERTH_TOKEN_TTL"},
		{"BERTH_TOKEN_TTL", "5m1s", "at most 5m"},
		{"BERTH_BACKEND", "postgres", "BERTH_BACKEND"},
		{"BERTH_TEST_CLOCK", "yes", "BERTH_TEST_CLOCK"},
	} {
		t.Run(tc.env, func(t *testing.T) {
			t.Setenv(tc.env, tc.value)
			if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("FromEnv with %s=%s: %v", tc.env, tc.value, err)
			}
		})
	}
}

func TestAWSBackendNeedsTableAndBucket(t *testing.T) {
	t.Setenv("BERTH_BACKEND", "aws")
	t.Setenv("BERTH_TABLE", "")
	t.Setenv("BERTH_BUCKET", "b")
	if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), "BERTH_TABLE") {
		t.Fatalf("missing table: %v", err)
	}
	t.Setenv("BERTH_TABLE", "t")
	t.Setenv("BERTH_BUCKET", "")
	if _, err := FromEnv(); err == nil || !strings.Contains(err.Error(), "BERTH_BUCKET") {
		t.Fatalf("missing bucket: %v", err)
	}
	t.Setenv("BERTH_BUCKET", "b")
	if c, err := FromEnv(); err != nil || c.Table != "t" || c.Bucket != "b" {
		t.Fatalf("%+v %v", c, err)
	}
}
