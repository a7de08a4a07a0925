package network

import (
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

func TestInFamily(t *testing.T) {
	for _, c := range []struct {
		at   string
		dom  int
		want string
		ok   bool
	}{
		{"127.0.0.1:8080", unix.AF_INET6, "[::ffff:127.0.0.1]:8080", true},
		{"0.0.0.0:8080", unix.AF_INET6, "[::]:8080", true},
		{"[::]:8080", unix.AF_INET, "0.0.0.0:8080", true},
		{"[::ffff:10.0.0.1]:80", unix.AF_INET, "10.0.0.1:80", true},
		{"[::1]:80", unix.AF_INET, "", false},
		{"127.0.0.1:80", unix.AF_INET, "127.0.0.1:80", true},
	} {
		got, ok := inFamily(netip.MustParseAddrPort(c.at), c.dom)
		if ok != c.ok || (ok && got.String() != c.want) {
			t.Errorf("inFamily(%s, %d) = %s %v, want %s %v", c.at, c.dom, got, ok, c.want, c.ok)
		}
	}
}
