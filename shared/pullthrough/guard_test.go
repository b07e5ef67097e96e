package pullthrough

import (
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestCheckURL(t *testing.T) {
	for _, tc := range []struct {
		url      string
		insecure bool
		ok       bool
	}{
		{"https://93.184.215.14/blob?sig=x", false, true},
		{"http://93.184.215.14/blob", false, false},
		{"https://127.0.0.1/blob", false, false},
		{"https://169.254.169.254/latest/meta-data/", false, false},
		{"https://[::1]:8443/x", false, false},
		{"https://localhost/x", false, false},
		{"https://storage.localhost/x", false, false},
		{"https://user:pw@93.184.215.14/x", false, false},
		{"file:///etc/passwd", true, false},
		{"http://127.0.0.1:5000/x", true, true},
	} {
		u, _ := url.Parse(tc.url)
		err := checkURL(t.Context(), u, tc.insecure)
		if (err == nil) != tc.ok {
			t.Errorf("checkURL(%s, insecure=%v) = %v, want ok=%v", tc.url, tc.insecure, err, tc.ok)
		}
	}
}

// TestTransportRefusesTheLoopback dials a server on the loopback, as a
// name that resolves there would: refused unless insecure (tests).
func TestTransportRefusesTheLoopback(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	for _, insecure := range []bool{false, true} {
		res, err := (&http.Client{Transport: transport(insecure)}).Get(srv.URL)
		if err == nil {
			res.Body.Close()
		}
		if refused := err != nil && errors.Is(err, errForbiddenAddress); refused == insecure {
			t.Errorf("insecure=%v: GET %s: %v", insecure, srv.URL, err)
		}
	}
}

// TestRedirectsToPrivateAddressesAreRefused: an upstream's blob redirect
// to the metadata service or the loopback is neither handed to a client
// nor followed by a fill.
func TestRedirectsToPrivateAddressesAreRefused(t *testing.T) {
	c := New(Stores{}, nil, nil, Config{}, slog.New(slog.DiscardHandler))
	for _, loc := range []string{"http://169.254.169.254/latest/meta-data/iam/", "https://127.0.0.1:9000/bucket/blob?X-Amz-Signature=1", "/relative/on/the/upstream"} {
		req, _ := http.NewRequest("GET", "https://203.0.113.7/v2/x/blobs/sha256:aa", nil)
		res := &http.Response{StatusCode: http.StatusTemporaryRedirect, Header: http.Header{"Location": {loc}}, Request: req}
		got, err := c.redirect(t.Context(), res)
		if loc == "/relative/on/the/upstream" {
			if err != nil || got != "https://203.0.113.7/relative/on/the/upstream" {
				t.Errorf("a relative redirect: %q, %v; want it resolved against the upstream", got, err)
			}
			continue
		}
		if err == nil || !errors.Is(err, errDown) || strings.Contains(err.Error(), "Signature") {
			t.Errorf("redirect to %s: %q, %v; want refused (and the URL's query kept out of the error)", loc, got, err)
		}
	}
}
