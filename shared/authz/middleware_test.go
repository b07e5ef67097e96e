package authz

import (
	"crypto/tls"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/berth-registry/berth/shared/auth"
)

func TestDecisionContextRoundTrip(t *testing.T) {
	for _, d := range []Decision{
		{Allow: true, Principal: auth.Principal{Tenancy: "dev", User: "ann", Groups: []string{"a", "b"}}, Via: "basic", Scope: "repository:dev/app:pull", MountFrom: true},
		{Allow: true, Via: "none"},
		{Status: http.StatusForbidden, Scope: "repository:dev/app:delete", Message: "dev/ann may not delete"},
		{Status: http.StatusUnauthorized, Message: "authentication required"},
	} {
		// Through JSON, as API Gateway passes it (numbers become float64).
		b, err := json.Marshal(d.Context())
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		got, ok := FromContext(m)
		if !ok || !reflect.DeepEqual(got, d) {
			t.Errorf("round trip of %+v = %+v, %v", d, got, ok)
		}
	}
	if _, ok := FromContext(nil); ok {
		t.Error("FromContext(nil) holds a decision")
	}
	if _, ok := FromContext(map[string]any{"user": "admin", "status": 200}); ok {
		t.Error("a context without \"allow\" holds a decision")
	}
	if _, ok := FromContext(map[string]any{"allow": "true"}); ok {
		t.Error(`"allow" as a string counts as a decision`)
	}
	if d, ok := FromContext(map[string]any{"allow": false, "status": "403"}); !ok || d.Status != 403 {
		t.Errorf("status as a string: %+v, %v", d, ok)
	}
}

func TestEnforce(t *testing.T) {
	tests := []struct {
		name          string
		ctx           map[string]any
		proto         string
		tls           bool
		wantStatus    int
		wantCode      string
		wantChallenge string
	}{
		{"allowed reaches the function", Decision{Allow: true, Principal: auth.Principal{Tenancy: "dev", User: "ann"}}.Context(), "", false, http.StatusTeapot, "", ""},
		{"403 → DENIED without a challenge", Decision{Status: 403, Scope: "repository:dev/app:delete", Message: "no"}.Context(), "", false, 403, "DENIED", ""},
		{"401 → challenge naming realm, service and scope", Decision{Status: 401, Scope: "repository:dev/app:pull", Message: "no"}.Context(), "", false, 401, "UNAUTHORIZED",
			`Bearer realm="http://registry.example:5000/token",service="berth",scope="repository:dev/app:pull"`},
		{"401 without scope (GET /v2/)", Decision{Status: 401, Message: "no"}.Context(), "", false, 401, "UNAUTHORIZED",
			`Bearer realm="http://registry.example:5000/token",service="berth"`},
		{"realm follows X-Forwarded-Proto", Decision{Status: 401, Scope: "registry:catalog:*"}.Context(), "HTTPS", false, 401, "UNAUTHORIZED",
			`Bearer realm="https://registry.example:5000/token",service="berth",scope="registry:catalog:*"`},
		{"realm follows TLS", Decision{Status: 401}.Context(), "", true, 401, "UNAUTHORIZED",
			`Bearer realm="https://registry.example:5000/token",service="berth"`},
		{"no decision → fail closed", nil, "", false, 401, "UNAUTHORIZED", `Bearer realm="http://registry.example:5000/token",service="berth"`},
		{"a context that is not a decision → fail closed", map[string]any{"principal": "dev/admin"}, "", false, 401, "UNAUTHORIZED", `Bearer realm="http://registry.example:5000/token",service="berth"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var seen *Decision
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				d, ok := DecisionFrom(r.Context())
				if ok {
					seen = &d
				}
				w.WriteHeader(http.StatusTeapot)
			})
			r := httptest.NewRequest("GET", "http://registry.example:5000/v2/dev/app/manifests/v1", nil)
			if tc.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tc.proto)
			}
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			}
			if tc.ctx != nil {
				r = r.WithContext(WithAuthorizerContext(r.Context(), tc.ctx))
			}
			rec := httptest.NewRecorder()
			Enforce(next, "berth").ServeHTTP(rec, r)
			if rec.Code != tc.wantStatus {
				t.Fatalf("status %d, want %d; body %s", rec.Code, tc.wantStatus, rec.Body)
			}
			if got := rec.Header().Get("WWW-Authenticate"); got != tc.wantChallenge {
				t.Errorf("WWW-Authenticate %q, want %q", got, tc.wantChallenge)
			}
			if tc.wantCode == "" {
				if seen == nil || seen.Principal.User != "ann" {
					t.Errorf("the function did not see the decision: %+v", seen)
				}
				return
			}
			if seen != nil {
				t.Fatal("the function ran on a refusal")
			}
			var body struct {
				Errors []struct{ Code, Message string }
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || len(body.Errors) != 1 || body.Errors[0].Code != tc.wantCode {
				t.Errorf("body %s, want one %s error (%v)", rec.Body, tc.wantCode, err)
			}
			if rec.Header().Get("Docker-Distribution-API-Version") != "registry/2.0" {
				t.Error("refusal without Docker-Distribution-API-Version")
			}
		})
	}
}

// parseChallenge reads a challenge strictly (RFC 9110 §11.2: auth-params
// of token=quoted-string, comma-separated), unescaping quoted-pairs; ok
// is false for anything else.
func parseChallenge(s string) (params map[string]string, ok bool) {
	rest, ok := strings.CutPrefix(s, "Bearer ")
	if !ok {
		return nil, false
	}
	params = map[string]string{}
	for rest != "" {
		name, after, found := strings.Cut(rest, `="`)
		if !found || name == "" || strings.ContainsAny(name, ` ",=\`) {
			return nil, false
		}
		var v strings.Builder
		i := 0
		for ; i < len(after) && after[i] != '"'; i++ {
			if after[i] == '\\' && i+1 < len(after) {
				i++
			}
			v.WriteByte(after[i])
		}
		if i == len(after) {
			return nil, false // unterminated
		}
		if _, dup := params[name]; dup {
			return nil, false
		}
		params[name] = v.String()
		rest = after[i+1:]
		if rest != "" {
			if rest, ok = strings.CutPrefix(rest, ","); !ok {
				return nil, false
			}
		}
	}
	return params, true
}

// TestChallengeQuotesEveryValue: whatever a Host header or a scope holds
// — quotes, backslashes, a second realm, control characters — the
// challenge has exactly realm, service and scope, each the value given
// (control characters dropped), so a client is never sent elsewhere.
func TestChallengeQuotesEveryValue(t *testing.T) {
	for _, tc := range []struct{ host, proto, scope string }{
		{"registry.example", "https", "repository:dev/app:pull"},
		{"registry.example", "", `repository:dev/a",realm="http://evil.example/token",x=":pull`},
		{`evil.example/token",x="`, "http", ""},
		{"registry.example", `https",realm="http://evil.example`, `a\"b\\`},
		{"registry.example", "https", "repository:dev/a\x00b\r\n:pull"},
	} {
		r := httptest.NewRequest("GET", "/v2/", nil)
		r.Host = tc.host
		if tc.proto != "" {
			r.Header.Set("X-Forwarded-Proto", tc.proto)
		}
		c := Challenge(r, "berth", tc.scope)
		p, ok := parseChallenge(c)
		if !ok {
			t.Errorf("host %q scope %q: challenge %q does not parse", tc.host, tc.scope, c)
			continue
		}
		want := map[string]string{"realm": "http://" + tc.host + "/token", "service": "berth"}
		if tc.proto == "https" {
			want["realm"] = "https://" + tc.host + "/token"
		}
		if tc.scope != "" {
			want["scope"] = dropControls(tc.scope)
		}
		if !reflect.DeepEqual(p, want) {
			t.Errorf("challenge %q parses to %q, want %q", c, p, want)
		}
	}
}

// dropControls is s without ASCII control characters, byte by byte (a
// header value may hold any other byte, UTF-8 or not).
func dropControls(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x20 && s[i] != 0x7f {
			b = append(b, s[i])
		}
	}
	return string(b)
}
