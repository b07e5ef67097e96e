// Package netguard decides which addresses Berth may connect to when it
// fetches from a URL someone other than the operator named — an OIDC
// issuer in a federation rule (shared/oidc), a pull-through cache's
// upstream and the redirects and token realms it answers with
// (shared/pullthrough): public unicast addresses only, never the
// instance metadata service, the Lambda runtime API on the loopback, or
// a private network. The check runs on the address each connection is
// made to, after name resolution, so a name that resolves (or rebinds)
// to an internal address is refused too.
package netguard

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
)

// ErrNotPublic refuses a connection to an address that is not public.
var ErrNotPublic = errors.New("not a public address")

// blocked are ranges no fetch may reach besides the private, loopback,
// link-local and multicast ones netip names: shared address space
// (carrier NAT), IETF protocol assignments, benchmarking, the reserved
// 240/4, and IPv6 prefixes that embed an IPv4 address.
var blocked = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),
	netip.MustParsePrefix("100.64.0.0/10"),
	netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"),
	netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"),
	netip.MustParsePrefix("64:ff9b:1::/48"),
	netip.MustParsePrefix("2002::/16"),
}

// Public reports whether a fetch may connect to a: a public unicast
// address, or loopback when allowed. The instance metadata service
// (169.254.169.254, fd00:ec2::254), the Lambda runtime API
// (127.0.0.1:9001) and private networks are refused.
func Public(a netip.Addr, loopback bool) bool {
	a = a.Unmap()
	if a.IsLoopback() {
		return loopback
	}
	if !a.IsGlobalUnicast() || a.IsPrivate() {
		return false
	}
	for _, p := range blocked {
		if p.Contains(a) {
			return false
		}
	}
	return true
}

// Control is a net.Dialer Control that refuses, with ErrNotPublic, every
// connection to an address Public refuses.
func Control(loopback bool) func(network, address string, _ syscall.RawConn) error {
	return func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return err
		}
		a, err := netip.ParseAddr(host)
		if err != nil || !Public(a, loopback) {
			return fmt.Errorf("connecting to %s is not allowed: %w", host, ErrNotPublic)
		}
		return nil
	}
}
