package network

import (
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestConfigDefaults(t *testing.T) {
	c, err := Config{}.WithDefaults()
	if err != nil || c.IP.String() != "10.0.2.100" || c.Gateway.String() != "10.0.2.2" || c.DNS.String() != "10.0.2.3" || c.MTU != 65520 || c.TapName != "tap0" {
		t.Errorf("defaults = %+v, %v; want slirp4netns's addresses, MTU 65520, tap0", c, err)
	}
	var other Config
	other.Subnet = mustPrefix("10.0.3.0/24")
	if c, err := other.WithDefaults(); err != nil || c.IP.String() != "10.0.3.100" || c.Gateway.String() != "10.0.3.2" {
		t.Errorf("another subnet = %+v, %v; want .100 and .2 of it", c, err)
	}
	for _, bad := range []Config{
		{Subnet: mustPrefix("10.0.2.0/28")},
		{Subnet: mustPrefix("fd00::/64")},
		{Gateway: mustAddr("192.168.1.1")},
		{MTU: 100},
	} {
		if _, err := bad.WithDefaults(); err == nil {
			t.Errorf("WithDefaults(%+v): no error", bad)
		}
	}
	if got := (Config{}).ResolvConf(); got != "nameserver 10.0.2.3\n" {
		t.Errorf("ResolvConf() = %q", got)
	}
}

func TestHostResolvers(t *testing.T) {
	p := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(p, []byte("# comment\nnameserver 127.0.0.53\nnameserver ::1\nsearch example.org\n"), 0o644)
	if got, want := hostResolvers(p), []string{"127.0.0.53:53", "[::1]:53"}; !slices.Equal(got, want) {
		t.Errorf("hostResolvers = %q; want %q", got, want)
	}
	if got := hostResolvers(filepath.Join(t.TempDir(), "missing")); got != nil {
		t.Errorf("hostResolvers of no file = %q; want none", got)
	}
}

func mustPrefix(s string) netip.Prefix { return netip.MustParsePrefix(s) }
func mustAddr(s string) netip.Addr     { return netip.MustParseAddr(s) }
