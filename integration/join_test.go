package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// vmHelper is the helper's cross-memory attach pair. vm-hold FILE keeps a
// secret in its memory, writes "PID ADDRESS" to FILE and waits for
// FILE.done; vm-read FILE reads the secret from that process with
// process_vm_readv and prints "vm_readv: ok SECRET" or "vm_readv: ERROR".
func vmHelper(verb, file string) int {
	secret := []byte("husk-join-secret")
	switch verb {
	case "vm-hold":
		line := fmt.Sprintf("%d %d\n", os.Getpid(), uintptr(unsafe.Pointer(&secret[0])))
		if err := os.WriteFile(file+".new", []byte(line), 0o644); err != nil {
			fmt.Println(err)
			return 1
		}
		_ = os.Rename(file+".new", file)
		for i := 0; i < 1200; i++ {
			if _, err := os.Stat(file + ".done"); err == nil {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		fmt.Printf("held %s\n", secret) // keeps secret alive
		return 0
	case "vm-read":
		var pid int
		var addr uintptr
		b, _ := os.ReadFile(file)
		if _, err := fmt.Sscanf(string(b), "%d %d", &pid, &addr); err != nil {
			fmt.Println("vm_readv: bad file:", err)
			return 1
		}
		fmt.Println(vmRead(pid, addr, len(secret)))
		return 0
	}
	return 2
}

// vmRead reads n bytes at addr from process pid with process_vm_readv:
// "vm_readv: ok DATA" or "vm_readv: ERROR".
func vmRead(pid int, addr uintptr, n int) string {
	buf := make([]byte, n)
	local := []unix.Iovec{{Base: &buf[0], Len: uint64(len(buf))}}
	remote := []unix.RemoteIovec{{Base: addr, Len: len(buf)}}
	if _, err := unix.ProcessVMReadv(pid, local, remote, 0); err != nil {
		return "vm_readv: " + err.Error()
	}
	return "vm_readv: ok " + string(buf)
}

// Two tasks with --join NAME share one container: the same user and IPC
// namespaces, /dev/shm, and cross-memory attach between them; each has its
// own exit code; after the last, no record and no monitor are left.
func TestRunJoin(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	dir := filepath.Join(e.home, "join")
	if err := os.Mkdir(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	name := "grp-" + randomHex(3)
	flags := append([]string{"--join", name, "-v", dir + ":/x"}, helperVolume(t)...)
	first, cancel := e.startHusk(runArgs(flags, ref, "sh", "-c",
		"(readlink /proc/self/ns/user; readlink /proc/self/ns/ipc) > /x/ns; echo from-first > /dev/shm/s; "+helperPath+" vm-hold /x/a; exit 3")...)
	defer cancel()
	for i := 0; i < 600; i++ {
		if _, err := os.Stat(filepath.Join(dir, "a")); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	id := strings.TrimSpace(e.ok("inspect", "-f", "{{.Id}}", name).stdout)
	r := e.sbx(flags, ref, "sh", "-c",
		"readlink /proc/self/ns/user; readlink /proc/self/ns/ipc; cat /dev/shm/s; "+helperPath+" vm-read /x/a; touch /x/a.done")
	ns, _ := os.ReadFile(filepath.Join(dir, "ns"))
	want := string(ns) + "from-first\nvm_readv: ok husk-join-secret\n"
	if r.code != 0 || r.stdout != want {
		t.Errorf("second task: want %q: %s", want, r)
	}
	err := first.Wait()
	if code := first.ProcessState.ExitCode(); code != 3 {
		t.Errorf("first task: want exit 3, have %d (%v)", code, err)
	}
	e.wantNoContainers()
	wantNoProcessWith(t, id)

	// Without --join, each run has its own namespaces, and the first's
	// memory is out of the second's reach twice over. Its PID is no
	// process in the second's PID namespace: naming the holder by its host
	// PID (as a rank would name a peer on the node) gives ESRCH. And where
	// the PID is visible, from husk's own user namespace on the host's PID
	// namespace (a sibling of the container's, as the two containers'
	// are to each other), the kernel refuses with EPERM: the reader has no
	// CAP_SYS_PTRACE in the target's user namespace, and is not in it
	// with the target's capabilities (commoncap's ptrace check), though
	// both run as the same host uid. Only the namespace's owner, this
	// harness on the host, may read it, which shows the PID and address
	// right.
	_ = os.Remove(filepath.Join(dir, "a"))
	_ = os.Remove(filepath.Join(dir, "a.done"))
	solo := append([]string{"--rm", "-v", dir + ":/x"}, helperVolume(t)...)
	other, cancel2 := e.startHusk(runArgs(solo, ref, helperPath, "vm-hold", "/x/a")...)
	defer cancel2()
	defer os.WriteFile(filepath.Join(dir, "a.done"), nil, 0o644)
	for i := 0; i < 600; i++ {
		if _, err := os.Stat(filepath.Join(dir, "a")); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	var inner int
	var addr uintptr
	b, _ := os.ReadFile(filepath.Join(dir, "a"))
	if _, err := fmt.Sscanf(string(b), "%d %d", &inner, &addr); err != nil {
		t.Fatalf("the holder wrote %q: %v", b, err)
	}
	host := hostPidOf(t, helperPath+"\x00vm-hold\x00/x/a\x00")
	if err := os.WriteFile(filepath.Join(dir, "b"), []byte(fmt.Sprintf("%d %d\n", host, addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	// The holder's user namespace, read while it lives: the first task's
	// has ended, and a new namespace may be given its freed number.
	holderNS, err := os.Readlink(fmt.Sprintf("/proc/%d/ns/user", host))
	if err != nil {
		t.Fatalf("the holder's user namespace: %v", err)
	}
	r = e.sbx(solo, ref, "sh", "-c", "readlink /proc/self/ns/user; "+helperPath+" vm-read /x/b")
	got := lines(r.stdout)
	if r.code != 0 || len(got) != 2 || got[0] == holderNS ||
		got[1] != "vm_readv: "+unix.ESRCH.Error() {
		t.Errorf("without --join, from another container: want another user namespace and %q: %s", unix.ESRCH.Error(), r)
	}
	link := filepath.Join(t.TempDir(), filepath.Base(helperPath))
	self, _ := os.Executable()
	if err := os.Symlink(self, link); err != nil {
		t.Fatal(err)
	}
	r = e.run("unshare", link, "vm-read", filepath.Join(dir, "b"))
	if want := "vm_readv: " + unix.EPERM.Error() + "\n"; r.code != 0 || r.stdout != want {
		t.Errorf("without --join, from a sibling user namespace that sees the PID: want %q: %s", want, r)
	}
	if got, want := vmRead(host, addr, len("husk-join-secret")), "vm_readv: ok husk-join-secret"; got != want {
		t.Errorf("from the host, the user namespace's owner: %q, want %q", got, want)
	}
	_ = os.WriteFile(filepath.Join(dir, "a.done"), nil, 0o644)
	_ = other.Wait()
	e.wantNoContainers()
}

// hostPidOf is the PID of this user's one process whose command line is
// cmdline, waited for up to 5 s.
func hostPidOf(t *testing.T, cmdline string) int {
	t.Helper()
	for i := 0; i < 100; i++ {
		entries, _ := os.ReadDir("/proc")
		for _, en := range entries {
			b, _ := os.ReadFile(filepath.Join("/proc", en.Name(), "cmdline"))
			if string(b) == cmdline {
				pid, _ := strconv.Atoi(en.Name())
				return pid
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no process runs %q", strings.ReplaceAll(cmdline, "\x00", " "))
	return 0
}

// A joined task killed with -9 does not keep its container: the monitor
// finds no live task and ends it.
func TestRunJoinKilled(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	name := "grp-" + randomHex(3)
	task, cancel := e.startHusk("run", "--join", name, ref, "sleep", "1000")
	defer cancel()
	var id string
	for i := 0; i < 200 && id == ""; i++ {
		time.Sleep(50 * time.Millisecond)
		if r := e.run("inspect", "-f", "{{.Id}}", name); r.code == 0 {
			id = strings.TrimSpace(r.stdout)
		}
	}
	if id == "" {
		t.Fatalf("the joined container %s never showed", name)
	}
	kill9(t, task)
	for i := 0; i < 300 && len(lines(e.ok("ps", "-a", "-q").stdout)) > 0; i++ {
		time.Sleep(50 * time.Millisecond)
	}
	e.wantNoContainers()
	wantNoProcessWith(t, id)
}

// wantNoProcessWith fails when a process of this user has id in its
// command line (a container's monitor, husk monitor ID), after a moment.
func wantNoProcessWith(t *testing.T, id string) {
	t.Helper()
	if id == "" {
		t.Error("no container ID to look for")
		return
	}
	for i := 0; i < 100; i++ {
		found := ""
		entries, _ := os.ReadDir("/proc")
		for _, en := range entries {
			b, _ := os.ReadFile(filepath.Join("/proc", en.Name(), "cmdline"))
			if bytes.Contains(b, []byte(id[:12])) {
				found = en.Name() + ": " + strings.ReplaceAll(string(b), "\x00", " ")
			}
		}
		if found == "" {
			return
		}
		if i == 99 {
			t.Errorf("a process of container %s is left: %s", id, found)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Under srun -n2, --join step puts both ranks in the step's one container
// (same user and IPC namespaces), each with its own rank variables; the
// step leaves no record.
func TestSlurmJoin(t *testing.T) {
	e, ref := slurmEnv(t)
	r := e.srun(nil, "-n2", "husk", "run", "--join", "step", ref, "sh", "-c",
		`echo "$SLURM_PROCID $(readlink /proc/self/ns/user) $(readlink /proc/self/ns/ipc)"; sleep 1`)
	got := lines(r.stdout)
	if r.code != 0 || len(got) != 2 {
		t.Fatalf("want two lines: %s", r)
	}
	a, b := strings.Fields(got[0]), strings.Fields(got[1])
	if len(a) != 3 || len(b) != 3 || a[0] == b[0] || a[1] != b[1] || a[2] != b[2] {
		t.Errorf("want ranks 0 and 1 in the same user and IPC namespaces: %s", r)
	}
	e.wantNoContainers()
}
