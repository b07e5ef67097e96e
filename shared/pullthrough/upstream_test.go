package pullthrough

import (
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/berth-registry/berth/shared/store"
)

func TestParseChallenge(t *testing.T) {
	for _, tc := range []struct {
		in     string
		scheme string
		params map[string]string
	}{
		{`Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"`,
			"bearer", map[string]string{"realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:library/alpine:pull"}},
		{`Bearer realm="https://ghcr.io/token", service="ghcr.io", scope="repository:a/b:pull,push"`,
			"bearer", map[string]string{"realm": "https://ghcr.io/token", "service": "ghcr.io", "scope": "repository:a/b:pull,push"}},
		{`Basic realm="Registry Realm"`, "basic", map[string]string{"realm": "Registry Realm"}},
		{`BEARER realm=https://x.example/token,service=x`, "bearer", map[string]string{"realm": "https://x.example/token", "service": "x"}},
		{`Bearer realm="a\"b"`, "bearer", map[string]string{"realm": `a"b`}},
		{``, "", map[string]string{}},
		{`Bearer realm="unterminated`, "bearer", map[string]string{"realm": "unterminated"}},
	} {
		scheme, params := parseChallenge(tc.in)
		if scheme != tc.scheme || !maps.Equal(params, tc.params) {
			t.Errorf("parseChallenge(%q) = %q %v, want %q %v", tc.in, scheme, params, tc.scheme, tc.params)
		}
	}
}

func TestCredentialsNeverPrintTheirPassword(t *testing.T) {
	c := Credentials{Username: "bot", Password: "s3cret-token"}
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "credentials", c, "ptr", &c)
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%v %+v %#v %s", c, c, c, c), fmt.Sprintf("%v", &c), logged.String()} {
		if strings.Contains(s, "s3cret") || !strings.Contains(s, "bot") {
			t.Errorf("printed %q", s)
		}
	}
}

func TestVerifyManifest(t *testing.T) {
	body := []byte(`{"schemaVersion":2}`)
	d := digest.SHA256.FromBytes(body)
	d512 := digest.SHA512.FromBytes(body)
	for _, tc := range []struct {
		ref, header string
		want        digest.Digest
		ok          bool
	}{
		{"latest", "", d, true},
		{"latest", d.String(), d, true},
		{"latest", digest.SHA256.FromString("other").String(), "", false},
		{"latest", d512.String(), d, true},
		{d.String(), "", d, true},
		{d512.String(), "", d512, true},
		{digest.SHA256.FromString("other").String(), "", "", false},
	} {
		got, err := verifyManifest(tc.ref, tc.header, body)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("verifyManifest(%s, %q) = %s, %v; want %s, ok=%v", tc.ref, tc.header, got, err, tc.want, tc.ok)
		}
	}
}

func TestStaleWarning(t *testing.T) {
	tg := store.Tag{Repo: "dev/hub/library/alpine", Name: "3", Checked: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	w := staleWarning(tg, DockerHub, fmt.Errorf("%w (HTTP 503)", errDown))
	want := `299 - "dev/hub/library/alpine:3 is served from the pull-through cache as https://registry-1.docker.io last confirmed it at 2026-03-01T12:00:00Z: the upstream could not be reached, so it may be stale"`
	if w != want {
		t.Errorf("got  %s\nwant %s", w, want)
	}
	if w := staleWarning(tg, DockerHub, fmt.Errorf("%w (HTTP 401)", errRefused)); !strings.Contains(w, "refused Berth's request") {
		t.Errorf("refused: %s", w)
	}
}
