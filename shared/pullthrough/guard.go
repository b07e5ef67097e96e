package pullthrough

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/berth-registry/berth/shared/netguard"
)

// errForbiddenAddress refuses a connection or redirect to an address
// that is not on the public internet (shared/netguard).
var errForbiddenAddress = netguard.ErrNotPublic

// public reports whether ip may be connected to (netguard.Public: not
// loopback, private, link-local — EC2's 169.254.169.254 and
// fd00:ec2::254 —, multicast or reserved).
func public(ip netip.Addr) bool { return netguard.Public(ip, false) }

// transport is the one HTTP transport to upstreams: no proxy from the
// environment, and, unless insecure (tests, local development), a
// dialer that refuses every address that is not public — checked on the
// address actually dialed, so a name that resolves to the loopback
// (DNS rebinding) is refused as well as a literal one.
func transport(insecure bool) *http.Transport {
	d := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	if !insecure {
		d.Control = netguard.Control(false)
	}
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           d.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          64,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 20 * time.Second,
	}
}

// checkURL refuses a URL Berth would fetch or send a client to that is
// not https (http is allowed when insecure), carries credentials, or
// (unless insecure) names a host that is not public: a literal address,
// a localhost name, or a name that resolves to such an address.
func checkURL(ctx context.Context, u *url.URL, insecure bool) error {
	switch {
	case u.Scheme != "https" && !(insecure && u.Scheme == "http"):
		return fmt.Errorf("%s URLs are refused: upstreams are https", u.Scheme)
	case u.User != nil:
		return errors.New("a URL with credentials in it is refused")
	case u.Hostname() == "":
		return errors.New("the URL has no host")
	case insecure:
		return nil
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return errForbiddenAddress
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		if !public(ip) {
			return errForbiddenAddress
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ips, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return fmt.Errorf("resolving %s: %w", host, err)
	}
	for _, ip := range ips {
		if !public(ip) {
			return errForbiddenAddress
		}
	}
	return nil
}
