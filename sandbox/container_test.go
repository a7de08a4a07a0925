package sandbox

import (
	"reflect"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"
)

func TestCommandOf(t *testing.T) {
	cfg := v1.Config{Entrypoint: []string{"/entry"}, Cmd: []string{"default"}}
	empty := ""
	other := "/other"
	cases := []struct {
		name string
		o    RunOptions
		want []string
	}{
		{"image's own", RunOptions{}, []string{"/entry", "default"}},
		{"cmd replaces cmd", RunOptions{Cmd: []string{"x", "y"}}, []string{"/entry", "x", "y"}},
		{"entrypoint drops cmd", RunOptions{Entrypoint: &other}, []string{"/other"}},
		{"empty entrypoint clears it", RunOptions{Entrypoint: &empty, Cmd: []string{"sh"}}, []string{"sh"}},
	}
	for _, c := range cases {
		if got := commandOf(cfg, c.o); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
	}
}

func TestEnvOverrides(t *testing.T) {
	env := envOf([]string{"PATH=/img", "A=1"}, RunOptions{Env: []string{"A=2", "B=3"}, Terminal: true}, "h")
	want := []string{"PATH=/img", "HOSTNAME=h", "TERM=xterm", "A=2", "B=3"}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("got %q, want %q", env, want)
	}
}

func TestContainerSpecShape(t *testing.T) {
	ro, err := VolumeOp(t.TempDir() + ":/data:ro")
	if err != nil {
		t.Fatal(err)
	}
	o := RunOptions{ID: NewID(), Volumes: []Op{ro}, Cmd: []string{"true"}}
	s, err := ContainerSpec(v1.Config{}, o)
	if err != nil {
		t.Fatal(err)
	}
	if s.Hostname != o.ID[:12] || s.Cwd != "/" || len(s.MaskedPaths) == 0 {
		t.Errorf("hostname %q cwd %q masked %v: want the short ID, /, Docker's masks", s.Hostname, s.Cwd, s.MaskedPaths)
	}
	ops := s.Ops("/scratch")
	// The volume comes after the kernel filesystems, and the masks last.
	var kinds []Kind
	for _, op := range ops {
		kinds = append(kinds, op.Kind)
	}
	iVol, iProc, iMask := -1, -1, -1
	for i, op := range ops {
		switch {
		case op.Target == "/data":
			iVol = i
			if op.Flags&unix.MS_RDONLY == 0 {
				t.Error("the :ro volume is not read-only")
			}
		case op.Target == "/proc":
			iProc = i
		case op.Kind == KindMask && iMask < 0:
			iMask = i
		}
	}
	if !(iProc < iVol && iVol < iMask) {
		t.Errorf("order proc %d, volume %d, first mask %d: want proc < volume < masks (%v)", iProc, iVol, iMask, kinds)
	}
	o.Privileged = true
	s, _ = ContainerSpec(v1.Config{}, o)
	if len(s.MaskedPaths) != 0 || len(s.ReadonlyPaths) != 0 {
		t.Error("--privileged still masks paths")
	}
}

func TestBadVolumesAndTmpfs(t *testing.T) {
	for _, v := range []string{"relative:/x", "/proc/husk-cannot-make/x:/x", "/tmp", "/tmp:rel", "/tmp:/x:rx", "/tmp:/"} {
		if _, err := VolumeOp(v); err == nil {
			t.Errorf("VolumeOp(%q) accepted", v)
		}
	}
	if _, err := TmpfsOp("/t:size=1m,bogus"); err == nil || !strings.Contains(err.Error(), "bogus") {
		t.Errorf("TmpfsOp with a bad option: %v", err)
	}
	op, err := TmpfsOp("/t:size=1m,exec")
	if err != nil || op.Flags&unix.MS_NOEXEC != 0 || op.Data != "size=1m" {
		t.Errorf("TmpfsOp exec: %+v %v", op, err)
	}
}

func TestShellMounts(t *testing.T) {
	t.Setenv("HOME", "/home/u")
	t.Setenv("XDG_RUNTIME_DIR", "")
	ops := withoutRuntimeDirs(shellMounts("/home/u/src", ShellOptions{}))
	if len(ops) != 2 || ops[0].Target != "/tmp" || ops[1].Source != "/home/u" {
		t.Errorf("cwd inside home: %+v", ops)
	}
	ops = withoutRuntimeDirs(shellMounts("/work", ShellOptions{NoHome: true}))
	if len(ops) != 3 || ops[1].FSType != "tmpfs" || ops[2].Target != "/work" {
		t.Errorf("--no-home with cwd elsewhere: %+v", ops)
	}
}

// withoutRuntimeDirs drops the tmpfs over /run/user/UID, which exists on
// some machines and not on others, and the private /run (shellsock_test.go).
func withoutRuntimeDirs(ops []Op) []Op {
	var out []Op
	for _, op := range ops {
		if !op.Optional && !within(op.Target, "/run") && !within(op.Target, "/var/run") {
			out = append(out, op)
		}
	}
	return out
}

func TestShellHidesSessionSockets(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_RUNTIME_DIR", dir)
	t.Setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path="+dir+"/bus")
	found := false
	for _, op := range shellMounts("/", ShellOptions{}) {
		found = found || (op.Target == dir && op.FSType == "tmpfs")
	}
	if !found {
		t.Errorf("XDG_RUNTIME_DIR %s is not hidden", dir)
	}
	for _, e := range shellEnv() {
		if strings.HasPrefix(e, "DBUS_SESSION_BUS_ADDRESS=") {
			t.Errorf("the shell still gets %s", e)
		}
	}
}
