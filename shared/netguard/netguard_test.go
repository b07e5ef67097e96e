package netguard

import (
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"93.184.215.14": true, "2606:4700::6810:84e5": true,
		"127.0.0.1": false, "::1": false, "10.1.2.3": false, "172.16.0.9": false, "192.168.1.1": false,
		"169.254.169.254": false, "fd00:ec2::254": false, "fe80::1": false, "100.64.0.1": false,
		"0.0.0.0": false, "::": false, "224.0.0.1": false, "::ffff:127.0.0.1": false, "::ffff:169.254.169.254": false,
		"198.18.0.1": false, "240.0.0.1": false, "2002:a9fe:a9fe::1": false,
	} {
		if got := Public(netip.MustParseAddr(addr), false); got != want {
			t.Errorf("Public(%s) = %v, want %v", addr, got, want)
		}
	}
	if !Public(netip.MustParseAddr("127.0.0.1"), true) || Public(netip.MustParseAddr("10.0.0.1"), true) {
		t.Error("loopback allowed must allow the loopback, and only it")
	}
}

// TestControlRefusesTheLoopback dials a server on the loopback, as a
// name that resolves there would: refused unless the loopback is allowed.
func TestControlRefusesTheLoopback(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	for _, loopback := range []bool{false, true} {
		d := &net.Dialer{Control: Control(loopback)}
		c := &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
		res, err := c.Get(srv.URL)
		if err == nil {
			res.Body.Close()
		}
		if refused := errors.Is(err, ErrNotPublic); refused == loopback {
			t.Errorf("loopback=%v: GET %s: %v", loopback, srv.URL, err)
		}
	}
}
