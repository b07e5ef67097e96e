package doctor

import (
	"context"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestParseChallenge(t *testing.T) {
	tests := []struct {
		name, header, realm, service string
	}{
		{"Berth's challenge", `Bearer realm="https://r.example/token",service="berth"`, "https://r.example/token", "berth"},
		{"scope with commas inside quotes", `Bearer realm="https://r/token",scope="repository:a/b:pull,push",service="s"`, "https://r/token", "s"},
		{"spaces after commas and upper-case keys", `Bearer Realm="https://r/token", Service="s"`, "https://r/token", "s"},
		{"escaped quote", `Bearer realm="https://r/t\"x",service="s"`, `https://r/t"x`, "s"},
		{"unquoted values", `Bearer realm=https://r/token,service=s`, "https://r/token", "s"},
		{"Basic challenge has no realm URL", `Basic realm="Registry"`, "Registry", ""},
		{"unterminated quote ends the parse", `Bearer realm="https://r/tok`, "https://r/tok", ""},
		{"scheme alone", `Bearer`, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			realm, service := parseChallenge(tt.header)
			if realm != tt.realm || service != tt.service {
				t.Errorf("parseChallenge(%q) = %q, %q; want %q, %q", tt.header, realm, service, tt.realm, tt.service)
			}
		})
	}
}

// challenging answers /v2/ like a registry with token auth.
var challenging = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	w.Header().Set("WWW-Authenticate", `Bearer realm="https://`+r.Host+`/token",service="x"`)
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(`{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`))
})

func tlsServer(t *testing.T) *httptest.Server {
	srv := httptest.NewUnstartedServer(challenging)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func result(t *testing.T, rep *Report, name string) Result {
	t.Helper()
	r, ran := rep.Result(name)
	if !ran {
		t.Fatalf("%s did not run", name)
	}
	return r
}

func TestTLSCheck(t *testing.T) {
	srv := tlsServer(t)
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())
	days := func(d int) func() time.Time {
		return func() time.Time { return srv.Certificate().NotAfter.Add(-time.Duration(d) * 24 * time.Hour) }
	}
	tests := []struct {
		name     string
		opts     Options
		wantOK   bool
		wantFix  string
		wantSeen []string
	}{
		{name: "trusted certificate over HTTP/2 passes", opts: Options{RootCAs: roots, Now: days(100)},
			wantOK: true, wantSeen: []string{"HTTP/2", "TLS 1.3", "(100 days)"}},
		{name: "certificate close to expiry fails", opts: Options{RootCAs: roots, Now: days(3)},
			wantFix: FixCertExpiry, wantSeen: []string{"(3 days)"}},
		{name: "--insecure still reports an untrusted certificate", opts: Options{Insecure: true, Now: days(100)},
			wantFix: FixCertUntrusted, wantSeen: []string{"not trusted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.URL = srv.URL
			rep, err := Run(context.Background(), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			r := result(t, rep, CheckTLS)
			if r.OK != tt.wantOK || r.Fix != tt.wantFix {
				t.Errorf("tls: %+v; want ok %v fix %q", r, tt.wantOK, tt.wantFix)
			}
			for _, s := range tt.wantSeen {
				if !strings.Contains(r.Seen, s) {
					t.Errorf("tls saw %q, want it to mention %q", r.Seen, s)
				}
			}
		})
	}
}

func TestClockCheck(t *testing.T) {
	srv := httptest.NewServer(challenging)
	defer srv.Close()
	tests := []struct {
		name   string
		offset time.Duration // of the local clock from the registry's
		wantOK bool
		seen   string
	}{
		{"in step", 0, true, "within a second"},
		{"registry two minutes behind", 2 * time.Minute, false, "2m0s behind"},
		{"registry ten seconds ahead", -10 * time.Second, true, "10s ahead of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Run(context.Background(), Options{URL: srv.URL, Now: func() time.Time { return time.Now().Add(tt.offset) }})
			if err != nil {
				t.Fatal(err)
			}
			r := result(t, rep, CheckClock)
			if r.OK != tt.wantOK || !strings.Contains(r.Seen, tt.seen) || (!r.OK && r.Fix != FixClock) {
				t.Errorf("clock: %+v; want ok %v, seen containing %q", r, tt.wantOK, tt.seen)
			}
		})
	}
}

func TestUnreachableRegistryIsOneFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens here now
	rep, err := Run(context.Background(), Options{URL: "http://" + addr, Username: "dev/admin", Password: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 1 || rep.Results[0].Name != CheckChallenge || rep.Results[0].Fix != FixReach {
		t.Fatalf("results %+v; want one challenge failure naming the URL fix", rep.Results)
	}
}

func TestRegistryURLs(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{in: "registry.example.com", want: "https://registry.example.com"},
		{in: "http://127.0.0.1:5000/", want: "http://127.0.0.1:5000"},
		{in: "https://abc.execute-api.eu-west-1.amazonaws.com/v2/", want: "https://abc.execute-api.eu-west-1.amazonaws.com"},
		{in: "", err: "no registry URL"},
		{in: "ftp://x", err: "not a registry URL"},
	}
	for _, tt := range tests {
		u, err := parseBase(tt.in)
		switch {
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("parseBase(%q) error %v, want %q", tt.in, err, tt.err)
		case tt.err == "" && (err != nil || u.String() != tt.want):
			t.Errorf("parseBase(%q) = %v, %v; want %s", tt.in, u, err, tt.want)
		}
	}
}

func TestRepositoryNameIsGeneratedInTheLoginsNamespace(t *testing.T) {
	a, b := repoName("Dev/admin"), repoName("Dev/admin")
	if !strings.HasPrefix(a, "dev/berth-doctor-") || len(a) != len("dev/berth-doctor-")+8 || a == b {
		t.Errorf("repoName = %q, %q; want distinct dev/berth-doctor-<8 hex>", a, b)
	}
}
