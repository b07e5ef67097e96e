package doctor

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// remapped is the name REST APIs and Lambda Function URLs give a
// function's WWW-Authenticate (docs/gateway-facts.md §7).
const remapped = "X-Amzn-Remapped-Www-Authenticate"

// checkChallenge: GET /v2/ without credentials must answer 401 with a
// WWW-Authenticate challenge (docker login and containerd send
// credentials only after one).
func (r *run) checkChallenge(ctx context.Context) Result {
	const want = `401 with WWW-Authenticate: Bearer realm="<registry>/token",service="…"`
	res, err := r.do(ctx, request{method: http.MethodGet, target: "/v2/"})
	if err != nil {
		return fail(CheckChallenge, "GET /v2/ failed: "+err.Error(), want, FixReach)
	}
	r.v2 = res
	ch := res.Header.Get("WWW-Authenticate")
	rm := res.Header.Get(remapped)
	switch {
	case res.StatusCode == http.StatusOK:
		r.anonymous = true
		return ok(CheckChallenge, "200 without credentials: the registry serves everyone (authentication is off)")
	case res.StatusCode != http.StatusUnauthorized:
		return fail(CheckChallenge, "GET /v2/ without credentials: "+describe(res), want, fixFor(res))
	case ch == "" && rm != "":
		r.realm, r.service = parseChallenge(rm)
		return fail(CheckChallenge, "401 with only x-amzn-Remapped-WWW-Authenticate: "+rm, want, FixFrontDoor)
	case ch == "":
		if _, _, isReg := registryError(res.Body); !isReg {
			return fail(CheckChallenge, "401 without a challenge: "+describe(res), want, FixIdentitySources)
		}
		return fail(CheckChallenge, "401 without a challenge: "+describe(res), want,
			"the function answered without the Docker challenge: deploy current function builds (make build && cdk deploy)")
	}
	r.realm, r.service = parseChallenge(ch)
	r.basicOnly = strings.EqualFold(scheme(ch), "basic")
	if strings.EqualFold(scheme(ch), "bearer") && r.realm == "" {
		return fail(CheckChallenge, "WWW-Authenticate: "+ch, want+" (a Bearer challenge needs a realm)",
			"the function wrote a Bearer challenge without a realm: deploy current function builds")
	}
	return ok(CheckChallenge, "401 with WWW-Authenticate: "+ch)
}

// scheme is an auth header's scheme word.
func scheme(h string) string {
	s, _, _ := strings.Cut(strings.TrimSpace(h), " ")
	return s
}

// parseChallenge reads realm and service from a Bearer challenge
// (RFC 6750 §3: auth-params of token="quoted string").
func parseChallenge(h string) (realm, service string) {
	_, rest, _ := strings.Cut(strings.TrimSpace(h), " ")
	for rest != "" {
		rest = strings.TrimLeft(rest, " ,")
		k, v, found := strings.Cut(rest, "=")
		if !found {
			break
		}
		k = strings.ToLower(strings.TrimSpace(k))
		var val string
		if strings.HasPrefix(v, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(v) && v[i] != '"'; i++ {
				if v[i] == '\\' && i+1 < len(v) {
					i++
				}
				b.WriteByte(v[i])
			}
			val, rest = b.String(), v[min(i+1, len(v)):]
		} else {
			val, rest, _ = strings.Cut(v, ",")
		}
		switch k {
		case "realm":
			realm = val
		case "service":
			service = val
		}
	}
	return realm, service
}

// checkAPIVersion: docker checks Docker-Distribution-API-Version on /v2/.
func (r *run) checkAPIVersion() Result {
	const want = "Docker-Distribution-API-Version: registry/2.0"
	if v := r.v2.Header.Get("Docker-Distribution-API-Version"); v != "registry/2.0" {
		seen := "no Docker-Distribution-API-Version header on GET /v2/"
		if v != "" {
			seen = "Docker-Distribution-API-Version: " + v
		}
		return fail(CheckAPIVersion, seen, want, FixAPIVersion)
	}
	return ok(CheckAPIVersion, want)
}

// maxSkew is the clock difference beyond which time-bound credentials
// (tokens, presigned URLs) start to misbehave.
const maxSkew = 30 * time.Second

// checkClock compares the registry's Date header with the local clock.
func (r *run) checkClock() Result {
	d, err := http.ParseTime(r.v2.Header.Get("Date"))
	if err != nil {
		return skip(CheckClock, "no Date header to compare clocks with")
	}
	// Date has whole seconds; the answer arrived just now.
	skew := d.Sub(r.now().Truncate(time.Second))
	seen := "registry clock within a second of this machine's"
	if a := skew.Abs(); a > time.Second {
		dir := "ahead of"
		if skew < 0 {
			dir = "behind"
		}
		seen = fmt.Sprintf("registry clock %s %s this machine's", a.Round(time.Second), dir)
	}
	if skew.Abs() > maxSkew {
		return fail(CheckClock, seen, fmt.Sprintf("clocks within %s", maxSkew), FixClock)
	}
	return ok(CheckClock, seen)
}

// certMinDays is how long a certificate should still be valid.
const certMinDays = 14

// checkTLS reports the certificate's expiry and trust and the protocol
// negotiated (HTTP/2 or not).
func (r *run) checkTLS() Result {
	st := r.v2.TLS
	if st == nil {
		return skip(CheckTLS, "plain http: docker accepts it only for registries it is told are insecure (and 127.0.0.1)")
	}
	proto := "HTTP/1.1"
	if r.v2.ProtoMajor == 2 {
		proto = "HTTP/2"
	}
	if len(st.PeerCertificates) == 0 {
		return fail(CheckTLS, "no server certificate", "a certificate", FixCertUntrusted)
	}
	cert := st.PeerCertificates[0]
	left := cert.NotAfter.Sub(r.now())
	names := strings.Join(cert.DNSNames, ",")
	if names == "" {
		names = cert.Subject.CommonName
	}
	seen := fmt.Sprintf("%s, %s, certificate for %s expires %s (%d days)", tlsVersion(st.Version), proto,
		names, cert.NotAfter.UTC().Format("2006-01-02"), int(left.Hours()/24))
	inter := x509.NewCertPool()
	for _, c := range st.PeerCertificates[1:] {
		inter.AddCert(c)
	}
	if _, err := cert.Verify(x509.VerifyOptions{DNSName: r.base.Hostname(), Roots: r.opts.RootCAs, Intermediates: inter, CurrentTime: r.now()}); err != nil {
		return fail(CheckTLS, seen+"; not trusted: "+err.Error(), "a certificate docker trusts", FixCertUntrusted)
	}
	if left < certMinDays*24*time.Hour {
		return fail(CheckTLS, seen, fmt.Sprintf("at least %d days of validity", certMinDays), FixCertExpiry)
	}
	return ok(CheckTLS, seen)
}

func tlsVersion(v uint16) string {
	switch v {
	case 0x0304:
		return "TLS 1.3"
	case 0x0303:
		return "TLS 1.2"
	}
	return fmt.Sprintf("TLS 0x%04x", v)
}

// basicAuth is the Basic Authorization header of the login.
func (r *run) basicAuth() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(r.opts.Username+":"+r.opts.Password))
}

// checkToken runs docker's token flow: Basic credentials to the realm
// for the push scope, then the token on /v2/.
func (r *run) checkToken(ctx context.Context) Result {
	switch {
	case r.opts.Username == "":
		return skip(CheckToken, "no credentials: pass -u <namespace>/<user> --password-stdin")
	case r.anonymous:
		return skip(CheckToken, "the registry needs no login")
	case r.basicOnly:
		return skip(CheckToken, "the registry challenges for Basic credentials: no token flow")
	}
	const want = `200 {"token": …} from the realm, and 200 on GET /v2/ with it`
	realm := r.realm
	guessed := ""
	if realm == "" {
		realm = r.base.String() + "/token"
		guessed = " (no realm in a challenge; tried " + realm + ")"
	}
	u, err := url.Parse(realm)
	if err != nil || u.Host == "" {
		return fail(CheckToken, fmt.Sprintf("realm %q is not a URL", realm), want, "the challenge's realm must be an absolute URL: deploy current function builds")
	}
	q := u.Query()
	if r.service != "" {
		q.Set("service", r.service)
	}
	q.Set("scope", "repository:"+r.repo+":pull,push,delete")
	q.Set("account", r.opts.Username)
	u.RawQuery = q.Encode()
	res, err := r.do(ctx, request{method: http.MethodGet, target: u.String(), auth: r.basicAuth()})
	if err != nil {
		return fail(CheckToken, "GET "+realm+" failed: "+err.Error()+guessed, want, FixReach)
	}
	if res.StatusCode != http.StatusOK {
		return fail(CheckToken, "GET "+realm+": "+describe(res)+guessed, want, fixFor(res))
	}
	var tok struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if json.Unmarshal(res.Body, &tok) != nil || (tok.Token == "" && tok.AccessToken == "") {
		return fail(CheckToken, "realm answered 200 without a token: "+clip(string(res.Body), 80), want, fixFunction(res))
	}
	if tok.Token == "" {
		tok.Token = tok.AccessToken
	}
	bearer := "Bearer " + tok.Token
	res, err = r.do(ctx, request{method: http.MethodGet, target: "/v2/", auth: bearer})
	if err != nil {
		return fail(CheckToken, "GET /v2/ with the token failed: "+err.Error(), want, FixReach)
	}
	if res.StatusCode != http.StatusOK {
		return fail(CheckToken, "GET /v2/ with the token: "+describe(res), want, FixTokenRefused)
	}
	r.auth = bearer
	return ok(CheckToken, fmt.Sprintf("token from %s (expires in %ds) accepted on /v2/%s", realm, tok.ExpiresIn, guessed))
}

// checkBasic: Basic credentials work directly on /v2 routes (crane and
// scripts use them).
func (r *run) checkBasic(ctx context.Context) Result {
	switch {
	case r.opts.Username == "":
		return skip(CheckBasic, "no credentials: pass -u <namespace>/<user> --password-stdin")
	case r.anonymous:
		r.auth = r.basicAuth()
		return skip(CheckBasic, "the registry needs no login")
	}
	const want = "200 on GET /v2/ with Basic credentials"
	res, err := r.do(ctx, request{method: http.MethodGet, target: "/v2/", auth: r.basicAuth()})
	if err != nil {
		return fail(CheckBasic, "GET /v2/ failed: "+err.Error(), want, FixReach)
	}
	if res.StatusCode != http.StatusOK {
		return fail(CheckBasic, "GET /v2/ with Basic credentials: "+describe(res), want, fixFor(res))
	}
	if r.auth == "" {
		// The token flow failed: push with Basic so the checks below
		// still say something.
		r.auth = r.basicAuth()
	}
	return ok(CheckBasic, "200 on GET /v2/ as "+r.opts.Username)
}
