package sandbox

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestUnixTablePaths(t *testing.T) {
	table := "Num       RefCount Protocol Flags    Type St Inode Path\n" +
		"0000000000000000: 00000002 00000000 00010000 0001 01 12345 /run/dbus/system_bus_socket\n" +
		"0000000000000000: 00000003 00000000 00000000 0001 03  9876 /run/dbus/system_bus_socket\n" +
		"0000000000000000: 00000002 00000000 00010000 0001 01    77 /var/lib/with space.sock\n" +
		"0000000000000000: 00000002 00000000 00010000 0001 01    78 @abstract\n" +
		"0000000000000000: 00000002 00000000 00010000 0001 01    79 relative.sock\n" +
		"0000000000000000: 00000002 00000000 00000000 0002 01    80\n"
	got := UnixTablePaths(table)
	want := []string{"/run/dbus/system_bus_socket", "/var/lib/with space.sock"}
	if !slices.Equal(got, want) {
		t.Errorf("UnixTablePaths: got %q, want %q", got, want)
	}
}

func TestShellSocketOps(t *testing.T) {
	t.Setenv("HOME", "/home/u")
	t.Setenv("XDG_RUNTIME_DIR", "")
	o := ShellOptions{
		HostSockets: []string{"/run/docker.sock", "/var/lib/d/s.sock", "/home/u/.s", "/work/x.sock", "/tmp/.X11-unix/X0", "/dev/log", "/srv/given.sock"},
		Sockets:     []string{"/run/given.sock", "/srv/given.sock"},
	}
	ops := shellMounts("/work", o)
	var masked, bound []string
	run := false
	for _, op := range ops {
		switch {
		case op.Kind == KindMask:
			masked = append(masked, op.Target)
		case op.Kind == KindBind && op.Source == op.Target && within(op.Target, "/run"):
			bound = append(bound, op.Target)
		case op.Kind == KindMount && op.Target == "/run" && op.FSType == "tmpfs":
			run = true
		}
	}
	if !run {
		t.Errorf("no private /run: %+v", ops)
	}
	if !slices.Equal(masked, []string{"/var/lib/d/s.sock"}) {
		t.Errorf("masked %q, want only the host socket outside the shell's own and private directories", masked)
	}
	if !slices.Equal(bound, []string{"/run/given.sock"}) {
		t.Errorf("bound %q, want the --socket under the private /run", bound)
	}
}

func TestRunLinks(t *testing.T) {
	dir := t.TempDir()
	if err := os.Symlink("/nix/store/x-system", filepath.Join(dir, "current-system")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "dbus"), 0o755); err != nil {
		t.Fatal(err)
	}
	ops := runLinks(dir)
	if len(ops) != 1 || ops[0].Kind != KindSymlink || ops[0].Source != "/nix/store/x-system" || ops[0].Target != filepath.Join(dir, "current-system") {
		t.Errorf("runLinks: want the one symlink again: %+v", ops)
	}
}

func TestSocketPath(t *testing.T) {
	dir := t.TempDir()
	l, err := net.Listen("unix", filepath.Join(dir, "s"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if p, err := SocketPath(filepath.Join(dir, ".", "s")); err != nil || p != filepath.Join(dir, "s") {
		t.Errorf("SocketPath of a socket: %q %v", p, err)
	}
	for _, bad := range []string{dir, filepath.Join(dir, "missing")} {
		if _, err := SocketPath(bad); err == nil {
			t.Errorf("SocketPath(%s) accepted", bad)
		}
	}
}
