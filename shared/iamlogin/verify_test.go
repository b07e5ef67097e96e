package iamlogin_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/berth-registry/berth/shared/iamlogin"
	"github.com/berth-registry/berth/shared/iamlogin/iamsign"
	"github.com/berth-registry/berth/shared/iamlogin/ststest"
)

const (
	region   = "eu-west-1"
	account  = "123456789012"
	registry = "registry.example.com"
)

func setup(t *testing.T) (*ststest.Server, *iamlogin.Verifier) {
	t.Helper()
	sts := ststest.New(t, region, true)
	v, err := iamlogin.NewVerifier(iamlogin.Options{Endpoint: sts.URL, Region: region, RootCAs: sts.RootCAs()})
	if err != nil {
		t.Fatal(err)
	}
	return sts, v
}

func sign(t *testing.T, _ *ststest.Server, creds aws.CredentialsProvider, endpoint, reg, audience string, at time.Time) string {
	t.Helper()
	tok, err := iamsign.Sign(context.Background(), creds, endpoint, reg, audience, at)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestVerify(t *testing.T) {
	sts, v := setup(t)
	role := sts.Role(account, "ci-builder", "job-42")
	now := time.Now()

	t.Run("a role session's login names its role, normalised from the assumed-role ARN", func(t *testing.T) {
		c, err := v.Verify(context.Background(), sign(t, sts, role, sts.URL, region, registry, now), registry, now)
		if err != nil {
			t.Fatal(err)
		}
		if c.ARN != "arn:aws:sts::123456789012:assumed-role/ci-builder/job-42" || c.Role != "arn:aws:iam::123456789012:role/ci-builder" || c.Account != account {
			t.Fatalf("caller = %+v", c)
		}
	})

	for _, tc := range []struct {
		name  string
		token func() string
		host  string
		want  error
		calls bool // whether STS is asked at all
	}{
		{"signed for another host → refused before STS is asked", func() string {
			return sign(t, sts, role, "https://sts.evil.example.com", region, registry, now)
		}, registry, iamlogin.ErrEndpoint, false},
		{"signed for another region → refused before STS is asked", func() string {
			return sign(t, sts, role, sts.URL, "us-east-1", registry, now)
		}, registry, iamlogin.ErrScope, false},
		{"signed for another registry (replayed by it) → refused", func() string {
			return sign(t, sts, role, sts.URL, region, "evil.example.com", now)
		}, registry, iamlogin.ErrAudience, false},
		{"signed 20 minutes ago (replayed) → refused", func() string {
			return sign(t, sts, role, sts.URL, region, registry, now.Add(-20*time.Minute))
		}, registry, iamlogin.ErrExpired, false},
		{"signed an hour ahead → refused", func() string {
			return sign(t, sts, role, sts.URL, region, registry, now.Add(time.Hour))
		}, registry, iamlogin.ErrExpired, false},
		{"a signature STS does not accept (tampered) → ErrRefused", func() string {
			return tamper(t, sign(t, sts, role, sts.URL, region, registry, now), func(r *iamlogin.Request) {
				r.Authorization = r.Authorization[:len(r.Authorization)-4] + "0000"
			})
		}, registry, iamlogin.ErrRefused, true},
		{"a session token swapped for another → ErrRefused", func() string {
			return tamper(t, sign(t, sts, role, sts.URL, region, registry, now), func(r *iamlogin.Request) {
				r.SecurityToken = strings.ToUpper(r.SecurityToken)
			})
		}, registry, iamlogin.ErrRefused, true},
		{"the security token dropped → refused before STS", func() string {
			return tamper(t, sign(t, sts, role, sts.URL, region, registry, now), func(r *iamlogin.Request) { r.SecurityToken = "" })
		}, registry, iamlogin.ErrMalformed, false},
		{"an IAM user (not a role) → ErrNotRole", func() string {
			return sign(t, sts, sts.User(account, "ci-builder"), sts.URL, region, registry, now)
		}, registry, iamlogin.ErrNotRole, true},
		{"not a login token → ErrMalformed", func() string { return "bt_aaaaaaaaaaaaaaaa_" + strings.Repeat("b", 32) }, registry, iamlogin.ErrMalformed, false},
		{"too long → ErrMalformed", func() string { return iamlogin.Prefix + strings.Repeat("A", iamlogin.MaxTokenLength) }, registry, iamlogin.ErrMalformed, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tok := tc.token()
			before := sts.Calls.Load()
			_, err := v.Verify(context.Background(), tok, tc.host, now)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Verify = %v, want %v", err, tc.want)
			}
			if asked := sts.Calls.Load() > before; asked != tc.calls {
				t.Fatalf("STS asked: %v, want %v", asked, tc.calls)
			}
		})
	}

	t.Run("an expired signature that passed Berth's clock is refused by STS", func(t *testing.T) {
		tok := sign(t, sts, role, sts.URL, region, registry, now.Add(-14*time.Minute))
		sts.Now = func() time.Time { return now.Add(2 * time.Minute) }
		defer func() { sts.Now = time.Now }()
		if _, err := v.Verify(context.Background(), tok, registry, now); !errors.Is(err, iamlogin.ErrRefused) {
			t.Fatalf("Verify = %v, want ErrRefused", err)
		}
	})
	t.Run("an STS outage is ErrUnavailable, not the client's fault", func(t *testing.T) {
		down, err := iamlogin.NewVerifier(iamlogin.Options{Endpoint: "https://127.0.0.1:1", Region: region, Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		tok := sign(t, sts, role, "https://127.0.0.1:1", region, registry, now)
		if _, err := down.Verify(context.Background(), tok, registry, now); !errors.Is(err, iamlogin.ErrUnavailable) {
			t.Fatalf("Verify = %v, want ErrUnavailable", err)
		}
	})
}

// tamper decodes a login token, edits it and encodes it again.
func tamper(t *testing.T, tok string, edit func(*iamlogin.Request)) string {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(tok, iamlogin.Prefix))
	if err != nil {
		t.Fatal(err)
	}
	var r iamlogin.Request
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	edit(&r)
	return r.Encode()
}

func TestEndpointConfig(t *testing.T) {
	for _, tc := range []struct {
		url      string
		loopback bool
		ok       bool
	}{
		{"https://sts.eu-west-1.amazonaws.com", false, true},
		{"http://sts.eu-west-1.amazonaws.com", true, false},
		{"http://127.0.0.1:4566", false, false},
		{"http://127.0.0.1:4566", true, true},
		{"https://sts.eu-west-1.amazonaws.com/path", false, false},
		{"https://u:p@sts.eu-west-1.amazonaws.com", false, false},
		{"https://sts.eu-west-1.amazonaws.com?x=1", false, false},
	} {
		if _, err := iamlogin.CheckEndpoint(tc.url, tc.loopback); (err == nil) != tc.ok {
			t.Errorf("CheckEndpoint(%q, %v) = %v, want ok %v", tc.url, tc.loopback, err, tc.ok)
		}
	}
	if got := iamlogin.DefaultEndpoint("cn-north-1"); got != "https://sts.cn-north-1.amazonaws.com.cn" {
		t.Errorf("DefaultEndpoint(cn-north-1) = %s", got)
	}
}

func TestRoles(t *testing.T) {
	for _, tc := range []struct{ caller, role string }{
		{"arn:aws:sts::123456789012:assumed-role/ci-builder/job-42", "arn:aws:iam::123456789012:role/ci-builder"},
		{"arn:aws-cn:sts::123456789012:assumed-role/r/s1", "arn:aws-cn:iam::123456789012:role/r"},
		{"arn:aws:iam::123456789012:user/ci-builder", ""},
		{"arn:aws:iam::123456789012:root", ""},
		{"arn:aws:sts::123456789012:federated-user/bob", ""},
		{"arn:aws:iam::123456789012:role/ci-builder", ""},
	} {
		got, err := iamlogin.RoleARN(tc.caller)
		if got != tc.role || (tc.role == "") != errors.Is(err, iamlogin.ErrNotRole) {
			t.Errorf("RoleARN(%s) = %q, %v; want %q", tc.caller, got, err, tc.role)
		}
	}
	for _, tc := range []struct {
		pattern string
		ok      bool
	}{
		{"arn:aws:iam::123456789012:role/ci-builder", true},
		{"arn:aws:iam::123456789012:role/ci-*", true},
		{"arn:aws:iam::123456789012:role/*", true},
		{"arn:aws:iam::*:role/ci", false},
		{"arn:aws:iam::12345678901*:role/ci", false},
		{"arn:aws:iam::123456789012:role/team/ci", false},
		{"arn:aws:iam::123456789012:user/ci", false},
		{"arn:*:iam::123456789012:role/ci", false},
		{"arn:aws:sts::123456789012:assumed-role/ci/s", false},
	} {
		if err := iamlogin.CheckPattern(tc.pattern); (err == nil) != tc.ok {
			t.Errorf("CheckPattern(%s) = %v, want ok %v", tc.pattern, err, tc.ok)
		}
	}
	for _, tc := range []struct {
		pattern, role string
		want          bool
	}{
		{"arn:aws:iam::123456789012:role/ci-*", "arn:aws:iam::123456789012:role/ci-builder", true},
		{"arn:aws:iam::123456789012:role/ci-*", "arn:aws:iam::999999999999:role/ci-builder", false},
		{"arn:aws:iam::123456789012:role/ci", "arn:aws:iam::123456789012:role/ci-builder", false},
		{"arn:aws:iam::123456789012:role/*", "arn:aws-cn:iam::123456789012:role/x", false},
	} {
		if got := iamlogin.Matches(tc.pattern, tc.role); got != tc.want {
			t.Errorf("Matches(%s, %s) = %v", tc.pattern, tc.role, got)
		}
	}
}
