package integration

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// Bad input to `husk run`: exit 125, one line starting "husk: " that names
// the problem, and no leftover mount or process (wantRunError).

func TestRunFaultImageNotPullable(t *testing.T) {
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	for name, ref := range map[string]string{
		"unknown repository": plain.Ref("no/such-image:latest"),
		"unknown tag":        plain.Ref("busybox:no-such-tag"),
		"registry down":      fmt.Sprintf("127.0.0.1:%d/busybox:latest", port),
		"malformed":          plain.Addr + "/BusyBox:latest",
	} {
		t.Run(name, func(t *testing.T) {
			e := sandboxEnv(t, "")
			e.wantRunError(e.run("run", ref, "true"))
			if ids := e.imageIDs(); len(ids) != 0 {
				t.Errorf("after a failed run, want no image: %q", ids)
			}
		})
	}
}

func TestRunFaultVolume(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	// A missing host path is made (TestRunRootfs); one that cannot be made
	// is refused by name, and nothing is left of it.
	locked := filepath.Join(e.home, "locked")
	if err := os.Mkdir(locked, 0o500); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(locked, "no-such-dir")
	e.wantRunError(e.sbx([]string{"-v", missing + ":/data"}, ref, "true"), missing)
	e.wantRunError(e.sbx([]string{"-v", "relative/dir:/data"}, ref, "true"), "relative/dir")
	e.wantRunError(e.sbx([]string{"-v", e.home + ":data"}, ref, "true"), "data")
	e.wantRunError(e.sbx([]string{"-v", e.home + ":/data:rx"}, ref, "true"), "rx")
	e.wantRunError(e.sbx([]string{"--tmpfs", "scratch"}, ref, "true"), "scratch")
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("husk created the missing volume source %s", missing)
	}
}

func TestRunFaultUnknownUser(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.wantRunError(e.sbx([]string{"-u", "no-such-user"}, ref, "true"), "no-such-user")
	e.wantRunError(e.sbx([]string{"-u", "root:no-such-group"}, ref, "true"), "no-such-group")
}

func TestRunFaultSeccompProfile(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	missing := filepath.Join(e.home, "missing.json")
	unreadable := e.writeFile("unreadable.json", []byte(`{"defaultAction":"SCMP_ACT_ALLOW"}`), 0o000)
	malformed := e.writeFile("malformed.json", []byte(`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [`), 0o644)
	badAction := e.writeFile("bad-action.json", []byte(`{"defaultAction": "SCMP_ACT_WHATEVER"}`), 0o644)
	for _, p := range []string{missing, unreadable, malformed, badAction, "/dev/zero"} {
		e.wantRunError(e.sbx([]string{"--security-opt", "seccomp=" + p}, ref, "true"), p)
	}
	// A profile that denies every call would leave the init unable to
	// exec or even exit: refused by name before anything starts.
	denyAll := e.writeFile("deny-all.json", []byte(`{"defaultAction": "SCMP_ACT_ERRNO"}`), 0o644)
	e.wantRunError(e.sbx([]string{"--security-opt", "seccomp=" + denyAll}, ref, "true"), denyAll, "denies execve")
	e.noLeftovers()
	e.wantRunError(e.sbx([]string{"--security-opt", "no-such-option=1"}, ref, "true"), "no-such-option")
}

func TestRunFaultBadFlags(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.wantRunError(e.sbx([]string{"--cap-add", "NOT_A_CAP"}, ref, "true"), "NOT_A_CAP")
	e.wantRunError(e.sbx([]string{"--cap-drop", "NOT_A_CAP"}, ref, "true"), "NOT_A_CAP")
	e.wantRunError(e.sbx([]string{"--network", "no-such-network"}, ref, "true"), "no-such-network")
	e.wantRunError(e.sbx([]string{"--userns", "no-such-mode"}, ref, "true"), "no-such-mode")
	e.wantRunError(e.sbx([]string{"-v", ""}, ref, "true"), "HOST:CONTAINER")
	e.wantRunError(e.sbx([]string{"-v", e.home + ":/"}, ref, "true"), "cannot replace the container's root")
	// Names outside Docker's grammar are refused before any lookup; a
	// path where the image goes is a squashfs file's (as Apptainer reads
	// it), and a missing one is named as such.
	for _, bad := range []string{"a..b", "../../etc/passwd"} {
		e.wantError(e.run("tag", ref, bad), "invalid reference", bad)
	}
	e.wantRunError(e.run("run", "a..b", "true"), "invalid reference", "a..b")
	e.wantRunError(e.run("run", "../../no/such.file", "true"), "no such file", "squashfs file's path, not an image's name")
	e.noLeftovers()
}

func TestRunFaultConflictingFlags(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.wantRunError(e.sbx([]string{"--network", "host", "--hostname", "box"}, ref, "true"), "--hostname", "--network")
	// -it with standard input a pipe, not a terminal.
	e.wantRunError(e.runInput("", runArgs([]string{"-it"}, ref, "true")...), "TTY")
	e.wantRunError(e.runInput("", runArgs([]string{"-i", "-t"}, ref, "true")...), "TTY")
}

// A host where unprivileged user namespaces are off. husk runs in a user
// namespace of the test's own whose user.max_user_namespaces is set to 0
// there (each user namespace has its own limits, writable with
// CAP_SYS_RESOURCE in it), so nothing changes for anyone else on the
// machine. The other switches (kernel.unprivileged_userns_clone,
// kernel.apparmor_restrict_unprivileged_userns) are global and exist only
// on some kernels: userns's unit tests cover their messages.
func TestRunFaultUsernsDisabled(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	// save enters the namespace before Go starts (its entry was written
	// down by the pull): the clone refused there, the usual path says why.
	saved := filepath.Join(e.home, "saved.tar")
	for _, args := range [][]string{runArgs(nil, ref, "true"), {"shell", "--", "true"}, {"save", "-o", saved, ref}} {
		r := e.withoutUserns(args...)
		e.wantRunError(r, "max_user_namespaces")
	}
	if _, err := os.Stat(saved); err == nil {
		t.Errorf("the refused save wrote %s", saved)
	}
}

// withoutUserns runs husk ARGS where user.max_user_namespaces is 0.
func (e *env) withoutUserns(args ...string) result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const script = `echo 0 > /proc/sys/user/max_user_namespaces || { echo "harness: cannot set max_user_namespaces" >&2; exit 99; }; exec "$0" "$@"`
	cmd := exec.CommandContext(ctx, "/bin/sh", append([]string{"-c", script, huskBin}, args...)...)
	cmd.Env = e.environ()
	cmd.Dir = e.home
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:     true,
		Cloneflags:  syscall.CLONE_NEWUSER,
		UidMappings: []syscall.SysProcIDMap{{ContainerID: me.UID, HostID: me.UID, Size: 1}},
		GidMappings: []syscall.SysProcIDMap{{ContainerID: os.Getgid(), HostID: os.Getgid(), Size: 1}},
		AmbientCaps: []uintptr{unix.CAP_SYS_RESOURCE},
	}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	r := finish(ctx, e.t, cmd.Run(), args, &out, &errb)
	if r.code == 99 {
		e.t.Fatalf("the harness could not switch user namespaces off in a namespace of its own: %s", r)
	}
	return r
}
