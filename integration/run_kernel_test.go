package integration

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dockerCaps is Docker's default capability set as /proc/PID/status shows it.
const dockerCaps = "00000000a80425fb"

// Bits of capabilities the tests add or drop.
const (
	capChown    = 0
	capSysAdmin = 21
)

// allCaps is every capability this kernel knows, as /proc/PID/status shows it.
func allCaps(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap")
	if err != nil {
		t.Fatal(err)
	}
	last, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%016x", uint64(1)<<(last+1)-1)
}

// Each sandbox has its own user, mount, pid, uts, ipc and network
// namespaces.
func TestRunNamespaces(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	kinds := []string{"user", "mnt", "pid", "uts", "ipc", "net", "cgroup"}
	script := ""
	for _, k := range kinds {
		script += "readlink /proc/self/ns/" + k + "; "
	}
	// Two sandboxes at once: namespace inode numbers are reused once a
	// namespace is gone, so the first one keeps running.
	bg := e.startReady(runArgs(nil, ref, "sh", "-c", script+"echo ready; exec sleep 100")...)
	first := lines(bg.text())
	second := lines(e.shOut(ref, script))
	if len(first) < len(kinds)+2 || len(second) != len(kinds) {
		t.Fatalf("readlink /proc/self/ns/*: %q %q", first, second)
	}
	first = first[1 : 1+len(kinds)] // after "--- stdout:"
	for i, k := range kinds {
		if k == "cgroup" {
			continue // not part of the issue
		}
		if first[i] == hostNS(t, k) {
			t.Errorf("the sandbox shares the host's %s namespace (%s)", k, first[i])
		}
		if k != "user" && first[i] == second[i] {
			t.Errorf("two sandboxes at once share one %s namespace (%s)", k, first[i])
		}
	}
	_ = syscall.Kill(bg.cmd.Process.Pid, syscall.SIGTERM)
	bg.wait(t, 10*time.Second)
}

// The pid namespace: husk's init is PID 1, the sandbox sees only its own
// processes, never the host's.
func TestRunPidNamespace(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	out := e.shOut(ref, `echo $$; grep PPid /proc/1/status; for p in /proc/[0-9]*; do echo "$(basename $p) $(tr '\0' ' ' < $p/cmdline)"; done`)
	l := lines(out)
	if len(l) < 3 {
		t.Fatalf("unexpected output: %q", out)
	}
	if l[0] == "1" {
		t.Errorf("the user's process is PID 1; husk's init must be")
	}
	if strings.TrimSpace(strings.TrimPrefix(l[1], "PPid:")) != "0" {
		t.Errorf("PID 1's parent is outside the namespace: want PPid 0: %q", l[1])
	}
	procs := l[2:]
	if len(procs) > 5 {
		t.Errorf("the sandbox sees %d processes, want its own few: %q", len(procs), procs)
	}
	var has1 bool
	for _, p := range procs {
		has1 = has1 || strings.HasPrefix(p, "1 ")
		for _, host := range []string{"integration.test", "docker-registry", "registry serve", "runuser"} {
			if strings.Contains(p, host) {
				t.Errorf("a host process is visible in the sandbox: %q", p)
			}
		}
	}
	if !has1 {
		t.Errorf("no PID 1 in the sandbox's /proc: %q", procs)
	}
}

// uts: --hostname, else a short ID that differs per run; the host's name
// never leaks.
func TestRunHostname(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	if out := e.shOut(ref, "hostname; cat /etc/hostname", "--hostname", "box1"); out != "box1\nbox1" {
		t.Errorf("--hostname box1: %q", out)
	}
	a, b := e.sbxOut(nil, ref, "hostname"), e.sbxOut(nil, ref, "hostname")
	hexID := func(s string) bool {
		_, err := strconv.ParseUint(s, 16, 64)
		return len(s) == 12 && err == nil
	}
	if !hexID(a) || !hexID(b) || a == b {
		t.Errorf("default hostnames: want a short container ID (12 hex digits), new each run: %q %q", a, b)
	}
	host, _ := os.Hostname()
	if a == host {
		t.Errorf("the host's name leaked into the sandbox")
	}
	// Setting the name inside changes only the sandbox's (root in its own
	// uts namespace may, with CAP_SYS_ADMIN).
	r := e.sbx([]string{"--cap-add", "SYS_ADMIN"}, ref, "hostname", "changed")
	if now, _ := os.Hostname(); now != host {
		t.Fatalf("the host's name changed to %q (%s)", now, r)
	}
}

// --network none: only lo, which is up; --network host: the host's
// interfaces and name; the default, lo and the builtin network's tap0.
func TestRunNetwork(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	t.Run("none", func(t *testing.T) {
		out := e.shOut(ref, "cat /proc/net/dev; ls /sys/class/net", "--network", "none")
		if devs := netDevices(out); !slices.Equal(devs, []string{"lo"}) {
			t.Errorf("--network none: want only lo, got %q\n%s", devs, out)
		}
		// The default is husk's builtin network: lo and its TAP device.
		if def := e.shOut(ref, "cat /proc/net/dev"); !slices.Equal(netDevices(def), []string{"lo", "tap0"}) {
			t.Errorf("the default network: want lo and tap0: %q", def)
		}
	})
	t.Run("none-loopback-up", func(t *testing.T) {
		// As in Docker: lo is up, so a process can reach itself on 127.0.0.1.
		out := e.shOut(ref, "ip -o link show lo", "--network", "none")
		if !strings.Contains(out, "<LOOPBACK,UP") {
			t.Errorf("--network none: lo must be up, as in Docker: %q", out)
		}
	})
	t.Run("host", func(t *testing.T) {
		hostDev, err := os.ReadFile("/proc/net/dev")
		if err != nil {
			t.Fatal(err)
		}
		want := netDevices(string(hostDev))
		out := e.shOut(ref, "cat /proc/net/dev; echo ---; hostname; echo ---; ls /sys/class/net", "--network", "host")
		parts := strings.Split(out, "---\n")
		if len(parts) != 3 {
			t.Fatalf("unexpected output: %q", out)
		}
		got := netDevices(parts[0])
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("--network host: want the host's interfaces %q, got %q", want, got)
		}
		if host, _ := os.Hostname(); strings.TrimSpace(parts[1]) != host {
			t.Errorf("--network host: want the host's name %q: %q", host, parts[1])
		}
		if len(lines(parts[2])) != len(want) {
			t.Errorf("--network host: /sys/class/net must list the host's interfaces: %q", parts[2])
		}
	})
}

// /proc, a minimal /dev, /sys read-only.
func TestRunKernelFilesystems(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	out := e.shOut(ref, "ls -A /dev; echo ---; cat /proc/self/mountinfo; echo ---; "+
		"head -c 4 /dev/urandom | wc -c; head -c 4 /dev/zero | wc -c; echo x > /dev/null && echo null-ok; "+
		"echo x > /dev/full || echo full-refused; touch /sys/x || echo sys-refused; ls /dev/pts/ptmx >/dev/null && echo pts-ok")
	parts := strings.Split(out, "---\n")
	if len(parts) != 3 {
		t.Fatalf("unexpected output: %q", out)
	}
	devs := lines(parts[0])
	required := []string{"null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue"}
	// Links Docker makes as well, and nothing else: no disk, no kmsg, no mem.
	allowed := append([]string{"ptmx", "fd", "stdin", "stdout", "stderr", "core", "console"}, required...)
	for _, d := range required {
		if !contains(devs, d) {
			t.Errorf("/dev/%s is missing: %q", d, devs)
		}
	}
	if !e.subuid() {
		// The fake-ids filter's apt config (sandbox.aptFakeIDs).
		allowed = append(allowed, ".husk-apt.conf")
	}
	for _, d := range devs {
		if !contains(allowed, d) {
			t.Errorf("/dev/%s must not be in the minimal /dev: %q", d, devs)
		}
	}
	ms := parseMountinfo(parts[1])
	for point, fstype := range map[string]string{"/proc": "proc", "/dev": "tmpfs", "/dev/pts": "devpts", "/dev/shm": "tmpfs", "/dev/mqueue": "mqueue", "/sys": "sysfs"} {
		if m, ok := mountAt(ms, point); !ok || m.FSType != fstype {
			t.Errorf("want %s on %s: %+v", fstype, point, m)
		}
	}
	if m, _ := mountAt(ms, "/sys"); !isReadonly(m) {
		t.Errorf("/sys must be read-only: %+v", m)
	}
	if m, _ := mountAt(ms, "/"); m.Point != "/" {
		t.Errorf("no root mount in the sandbox's mountinfo")
	}
	checks := lines(parts[2])
	want := []string{"4", "4", "null-ok", "full-refused", "sys-refused", "pts-ok"}
	if !slices.Equal(checks, want) {
		t.Errorf("device checks: got %q, want %q", checks, want)
	}
	// Nothing of the host's mount table is visible: the old root is gone.
	for _, m := range ms {
		if strings.Contains(m.Point, e.home) || strings.HasPrefix(m.Point, "/var/tmp") || strings.HasPrefix(m.Point, "/home") {
			t.Errorf("a host mount is visible in the sandbox: %+v", m)
		}
	}
}

// Docker's masked and read-only paths under /proc and /sys.
func TestRunMaskedPaths(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	out := e.shOut(ref, "cat /proc/kcore 2>/dev/null | wc -c; cat /proc/keys 2>/dev/null | wc -c; cat /proc/timer_list 2>/dev/null | wc -c; "+
		"ls -A /proc/scsi /proc/acpi /sys/firmware 2>/dev/null | grep -v -e : -e '^$' | wc -l; "+
		"echo 1 > /proc/sys/kernel/hostname || echo sys-refused; echo c > /proc/sysrq-trigger || echo sysrq-refused; cat /proc/self/mountinfo")
	l := lines(out)
	if len(l) < 6 {
		t.Fatalf("unexpected output: %q", out)
	}
	for i, what := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list", "/proc/scsi, /proc/acpi, /sys/firmware"} {
		if strings.TrimSpace(l[i]) != "0" {
			t.Errorf("%s must be masked (empty): %q", what, l[i])
		}
	}
	if l[4] != "sys-refused" || l[5] != "sysrq-refused" {
		t.Errorf("/proc/sys and /proc/sysrq-trigger must refuse writes: %q", l[4:6])
	}
	ms := parseMountinfo(out)
	// Masks and read-only binds apply to what this kernel has.
	exists := func(p string) bool { _, err := os.Lstat(p); return err == nil }
	for _, p := range []string{"/proc/kcore", "/proc/keys", "/proc/timer_list"} {
		if _, ok := mountAt(ms, p); exists(p) && !ok {
			t.Errorf("%s must be masked by a mount", p)
		}
	}
	for _, p := range []string{"/proc/sys", "/proc/sysrq-trigger", "/proc/bus", "/proc/fs", "/proc/irq"} {
		if m, ok := mountAt(ms, p); exists(p) && (!ok || !isReadonly(m)) {
			t.Errorf("%s must be a read-only mount: %+v", p, m)
		}
	}
	// --privileged: Docker unmasks.
	if out := e.shOut(ref, "cat /proc/self/mountinfo", "--privileged"); strings.Contains(out, " /proc/kcore ") {
		t.Errorf("--privileged: /proc/kcore must not be masked: %q", out)
	}
}

// Docker's default capabilities for root, --cap-add, --cap-drop,
// --privileged.
func TestRunCapabilities(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	caps := func(flags ...string) map[string]string {
		st := e.sbxOut(flags, ref, "cat", "/proc/self/status")
		m := map[string]string{}
		for _, k := range []string{"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "Seccomp", "NoNewPrivs"} {
			m[k] = statusField(st, k)
		}
		return m
	}
	hexOf := func(v uint64) string { return fmt.Sprintf("%016x", v) }
	def, _ := strconv.ParseUint(dockerCaps, 16, 64)
	all := allCaps(t)
	cases := []struct {
		name   string
		flags  []string
		set    string
		secomp string
	}{
		{"default", nil, dockerCaps, "2"},
		{"cap-add SYS_ADMIN", []string{"--cap-add", "SYS_ADMIN"}, hexOf(def | 1<<capSysAdmin), "2"},
		{"cap-add CAP_SYS_ADMIN", []string{"--cap-add", "CAP_SYS_ADMIN"}, hexOf(def | 1<<capSysAdmin), "2"},
		{"cap-drop CHOWN", []string{"--cap-drop", "chown"}, hexOf(def &^ (1 << capChown)), "2"},
		{"cap-drop ALL", []string{"--cap-drop", "ALL"}, hexOf(0), "2"},
		{"cap-drop ALL cap-add CHOWN", []string{"--cap-drop", "ALL", "--cap-add", "CHOWN"}, hexOf(1 << capChown), "2"},
		{"cap-add ALL", []string{"--cap-add", "ALL"}, all, "2"},
		{"privileged", []string{"--privileged"}, all, "0"},
	}
	for _, c := range cases {
		m := caps(c.flags...)
		for _, k := range []string{"CapPrm", "CapEff", "CapBnd"} {
			if m[k] != c.set {
				t.Errorf("%s: %s = %s, want %s", c.name, k, m[k], c.set)
			}
		}
		if m["CapInh"] != hexOf(0) || m["CapAmb"] != hexOf(0) {
			t.Errorf("%s: want no inheritable or ambient capabilities: %v", c.name, m)
		}
		if m["Seccomp"] != c.secomp {
			t.Errorf("%s: Seccomp %s, want %s", c.name, m["Seccomp"], c.secomp)
		}
	}
	// What the capabilities allow: chown by root by default (faked without
	// ranges, where uid 1 is not mapped: really done only with
	// fake-ids=false and ranges), refused once dropped; mount only with
	// SYS_ADMIN (which also opens Docker's profile).
	if r := e.sbx(nil, ref, "chown", "1:1", "/etc/passwd"); r.code != 0 {
		t.Errorf("chown 1:1 as root with CAP_CHOWN: %s", r)
	}
	if r := e.sbx([]string{"--security-opt", "fake-ids=false"}, ref, "chown", "1:1", "/etc/passwd"); (r.code == 0) != me.Subuid {
		t.Errorf("chown 1:1 with fake-ids=false (mapped only with ranges, subuid %v): %s", me.Subuid, r)
	}
	if r := e.sbx([]string{"--cap-drop", "CHOWN"}, ref, "chown", "1:1", "/tmp"); r.code == 0 {
		t.Errorf("--cap-drop CHOWN: chown must fail: %s", r)
	}
	if r := e.sbx([]string{"--cap-add", "SYS_ADMIN"}, ref, "mount", "-t", "tmpfs", "none", "/tmp"); r.code != 0 {
		t.Errorf("--cap-add SYS_ADMIN: mounting a tmpfs must work: %s", r)
	}
}

// Seccomp: Docker's profile by default (mode 2), unconfined (0), a profile
// file, and no-new-privileges.
func TestRunSeccomp(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	status := func(flags ...string) (string, string) {
		st := e.sbxOut(flags, ref, "cat", "/proc/self/status")
		return statusField(st, "Seccomp"), statusField(st, "NoNewPrivs")
	}
	if s, n := status(); s != "2" || n != "0" {
		t.Errorf("default: Seccomp %s NoNewPrivs %s, want 2 and 0 (as Docker)", s, n)
	}
	if s, _ := status("--security-opt", "seccomp=unconfined"); s != "0" {
		t.Errorf("seccomp=unconfined: Seccomp %s, want 0", s)
	}
	if s, n := status("--security-opt", "no-new-privileges"); s != "2" || n != "1" {
		t.Errorf("no-new-privileges: Seccomp %s NoNewPrivs %s, want 2 and 1", s, n)
	}
	if _, n := status("--security-opt", "no-new-privileges=true"); n != "1" {
		t.Errorf("no-new-privileges=true: NoNewPrivs %s, want 1", n)
	}
	// Docker's other spellings, and the options that turn off what husk
	// never applies.
	if _, n := status("--security-opt", "no-new-privileges:true"); n != "1" {
		t.Errorf("no-new-privileges:true: NoNewPrivs %s, want 1", n)
	}
	if _, n := status("--security-opt", "no-new-privileges:false"); n != "0" {
		t.Errorf("no-new-privileges:false: NoNewPrivs %s, want 0", n)
	}
	if s, _ := status("--security-opt", "seccomp:unconfined", "--security-opt", "label=disable", "--security-opt", "apparmor=unconfined"); s != "0" {
		t.Errorf("seccomp:unconfined with label=disable and apparmor=unconfined: Seccomp %s, want 0", s)
	}
	e.wantRunError(e.sbx([]string{"--security-opt", "label=type:svirt_t"}, ref, "true"), "label=type:svirt_t")
	profile := e.writeFile("deny-mkdir.json", []byte(`{
  "defaultAction": "SCMP_ACT_ALLOW",
  "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]
}`), 0o644)
	flags := []string{"--security-opt", "seccomp=" + profile}
	if s, _ := status(flags...); s != "2" {
		t.Errorf("seccomp=FILE: Seccomp %s, want 2", s)
	}
	r := e.sbx(flags, ref, "sh", "-c", "touch /made-file && echo touched; mkdir /made-dir")
	if r.code == 0 || r.stdout != "touched\n" || !strings.Contains(r.stderr, "Operation not permitted") {
		t.Errorf("a profile that denies mkdir: want touch to work and mkdir refused with EPERM: %s", r)
	}
}
