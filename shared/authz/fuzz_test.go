package authz

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/berth-registry/berth/shared/auth"
)

// FuzzAuthorizationHeader checks that Authenticate never panics and never
// authenticates garbage: a header yields a principal only when it carries
// exactly a seeded user's login and auth token (Basic), or a token this
// fixture issued (Bearer, compared after base64 decoding, so re-encodings
// of the same signed bytes count as that token). Everything else is
// anonymous (no header) or an *AuthError. Seeds:
// testdata/fuzz/FuzzAuthorizationHeader, plus valid credentials added
// below (the committed ones are valid too: fixture secrets are fixed).
func FuzzAuthorizationHeader(f *testing.F) {
	fx := newFixture(f)
	ctx := context.Background()
	issued := map[string]string{} // decoded segments → subject
	issue := func(subject string, access ...auth.Access) {
		tok, _, err := fx.issuer.Issue(ctx, subject, access)
		if err != nil {
			f.Fatal(err)
		}
		key, _ := decodedJWT(tok)
		issued[key] = subject
		f.Add("Bearer " + tok)
	}
	issue("dev/admin", repoAccess("dev/app", "*"))
	issue("dev/reader", repoAccess("dev/app", "pull"))
	issue("")
	for login := range fixtureUsers {
		f.Add(basic(login, fixtureSecret(login)))
	}

	f.Fuzz(func(t *testing.T, header string) {
		c, err := fx.a.Authenticate(ctx, header)
		if err != nil {
			var ae *AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("Authenticate(%q): error %v is not an *AuthError", header, err)
			}
			if !c.Principal.Anonymous() || c.Via != "" || c.Claims != nil {
				t.Fatalf("Authenticate(%q): credentials %+v returned with error %v", header, c, err)
			}
			return
		}
		scheme, value, _ := strings.Cut(header, " ")
		value = strings.TrimSpace(value)
		switch c.Via {
		case "none":
			if header != "" || !c.Principal.Anonymous() {
				t.Fatalf("Authenticate(%q) = %+v: only an absent header is anonymous", header, c)
			}
		case "basic":
			login, secret, ok := basicCredentials(scheme, value)
			if !ok || fixtureSecret(login) != secret || c.Principal.String() != login {
				t.Fatalf("Authenticate(%q) logged in as %v: not a seeded login and token", header, c.Principal)
			}
			if _, seeded := fixtureUsers[login]; !seeded || !slices.Equal(c.Principal.Groups, fixtureUsers[login]) {
				t.Fatalf("Authenticate(%q) = %v with groups %v, want the seeded user's %v", header, c.Principal, c.Principal.Groups, fixtureUsers[login])
			}
		case "bearer":
			key, ok := decodedJWT(value)
			subject, known := issued[key]
			if !strings.EqualFold(scheme, "bearer") || !ok || !known {
				t.Fatalf("Authenticate(%q) accepted a registry token this fixture never issued: %+v", header, c.Claims)
			}
			if c.Principal.String() != subject && !(subject == "" && c.Principal.Anonymous()) {
				t.Fatalf("Authenticate(%q): principal %v, token subject %q", header, c.Principal, subject)
			}
		default:
			t.Fatalf("Authenticate(%q): unknown Via %q", header, c.Via)
		}
	})
}

// basicCredentials decodes a Basic header value.
func basicCredentials(scheme, value string) (login, secret string, ok bool) {
	if !strings.EqualFold(scheme, "basic") {
		return "", "", false
	}
	raw, err := base64.StdEncoding.DecodeString(value)
	if err != nil {
		return "", "", false
	}
	return strings.Cut(string(raw), ":")
}

// decodedJWT is a token's three segments, base64-decoded and joined: two
// spellings of the same signed bytes give the same key.
func decodedJWT(tok string) (string, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", false
	}
	var b bytes.Buffer
	for _, p := range parts {
		d, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil {
			return "", false
		}
		b.Write(d)
		b.WriteByte(0)
	}
	return b.String(), true
}

// FuzzChallenge checks the WWW-Authenticate builder on any Host header,
// X-Forwarded-Proto and scope: the challenge always parses to exactly
// realm, service and (when given) scope, each the value given with only
// control characters dropped, and the realm's scheme is http or https —
// so no value can add a parameter or point a client elsewhere.
func FuzzChallenge(f *testing.F) {
	f.Add("registry.example", "https", "repository:dev/app:pull")
	f.Add(`evil.example/token",x="`, "http", "")
	f.Add("registry.example", `https",realm="http://evil`, `repository:dev/a",realm="http://evil.example/token",x=":pull`)
	f.Add("h", "", "a\\\"b\x00\r\n")
	f.Fuzz(func(t *testing.T, host, proto, scope string) {
		r := httptest.NewRequest("GET", "/v2/", nil)
		r.Host = host
		r.Header["X-Forwarded-Proto"] = []string{proto}
		c := Challenge(r, "berth", scope)
		p, ok := parseChallenge(c)
		if !ok {
			t.Fatalf("host %q proto %q scope %q: challenge %q does not parse", host, proto, scope, c)
		}
		realm := p["realm"]
		if !strings.HasPrefix(realm, "http://") && !strings.HasPrefix(realm, "https://") {
			t.Fatalf("realm %q", realm)
		}
		want := map[string]string{"realm": realm, "service": "berth"}
		if tail := dropControls(host) + "/token"; !strings.HasSuffix(realm, "://"+tail) {
			t.Fatalf("realm %q, want a URL of %q", realm, tail)
		}
		if scope != "" {
			want["scope"] = dropControls(scope)
		}
		if len(p) != len(want) || p["service"] != want["service"] || p["scope"] != want["scope"] {
			t.Fatalf("challenge %q parses to %q, want %q", c, p, want)
		}
	})
}
