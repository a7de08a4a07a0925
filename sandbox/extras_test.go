package sandbox

import (
	"husk/network"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseAddHost(t *testing.T) {
	for in, want := range map[string]string{"db:10.1.2.3": "db:10.1.2.3", "db=10.1.2.3": "db:10.1.2.3",
		"v6:[::1]": "v6:::1", "v6:::1": "v6:::1", "gw:host-gateway": "gw:host-gateway"} {
		if got, err := ParseAddHost(in, "builtin"); err != nil || got != want {
			t.Errorf("ParseAddHost(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"db", "db:", ":1.2.3.4", "db:notanip", "a b:1.2.3.4"} {
		if _, err := ParseAddHost(in, "builtin"); err == nil {
			t.Errorf("ParseAddHost(%q): want an error", in)
		}
	}
	if _, err := ParseAddHost("gw:host-gateway", "none"); err == nil {
		t.Errorf("host-gateway with --network none: want an error")
	}
}

func TestHostsLines(t *testing.T) {
	got := hostsLines([]string{"db:10.1.2.3", "v6:::1", "gw:host-gateway"}, &network.Spec{Mode: "builtin"})
	if got != "10.1.2.3\tdb\n::1\tv6\n10.0.2.2\tgw\n" {
		t.Errorf("hostsLines: %q", got)
	}
}

func TestParseUlimit(t *testing.T) {
	r, err := ParseUlimit("nofile=512:1024")
	if err != nil || r.Type != "RLIMIT_NOFILE" || r.Soft != 512 || r.Hard != 1024 {
		t.Errorf("nofile=512:1024: %+v %v", r, err)
	}
	if r, err := ParseUlimit("core=0"); err != nil || r.Soft != 0 || r.Hard != 0 {
		t.Errorf("core=0: %+v %v", r, err)
	}
	for _, in := range []string{"nofile", "bogus=1", "nofile=2:1", "nofile=a", "nofile=1:2:3"} {
		if _, err := ParseUlimit(in); err == nil || !strings.Contains(err.Error(), "--ulimit") {
			t.Errorf("ParseUlimit(%q): want an error naming --ulimit: %v", in, err)
		}
	}
	var own unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &own) == nil && own.Max != unix.RLIM_INFINITY {
		if _, err := ParseUlimit("nofile=-1"); err == nil {
			t.Errorf("nofile=-1 above the hard limit %d: want an error", own.Max)
		}
	}
}

func TestParseDevice(t *testing.T) {
	d, err := ParseDevice("/dev/null:/dev/mynull:rw")
	if err != nil || d.PathOnHost != "/dev/null" || d.PathInContainer != "/dev/mynull" || d.CgroupPermissions != "rw" {
		t.Errorf("/dev/null:/dev/mynull:rw: %+v %v", d, err)
	}
	if d, err := ParseDevice("/dev/null:r"); err != nil || d.PathInContainer != "/dev/null" || d.CgroupPermissions != "r" {
		t.Errorf("/dev/null:r: %+v %v", d, err)
	}
	for _, in := range []string{"/etc/passwd", "/dev/husk-none", "null", "/dev/null:rel", "/dev/null:/a:rwx"} {
		if _, err := ParseDevice(in); err == nil {
			t.Errorf("ParseDevice(%q): want an error", in)
		}
	}
}
