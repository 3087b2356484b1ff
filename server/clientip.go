package server

import (
	"net/netip"
	"strings"
)

// clientIP returns the visitor's address: the socket peer, or, when the peer is a trusted
// proxy, the right-most X-Forwarded-For entry that is not itself a trusted proxy.
func clientIP(peer netip.Addr, xff string, trusted []netip.Prefix) netip.Addr {
	peer = peer.Unmap()
	if xff == "" || !isTrusted(peer, trusted) {
		return peer
	}
	for rest := xff; ; { // right to left, without allocating the split
		hop := rest
		i := strings.LastIndexByte(rest, ',')
		if i >= 0 {
			hop, rest = rest[i+1:], rest[:i]
		}
		a, err := netip.ParseAddr(strings.TrimSpace(hop))
		if err != nil {
			return peer // a malformed hop: trust nothing left of it
		}
		a = a.Unmap()
		if !isTrusted(a, trusted) {
			return a
		}
		peer = a
		if i < 0 {
			return peer
		}
	}
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
