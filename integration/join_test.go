package integration

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
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
		buf := make([]byte, len(secret))
		local := []unix.Iovec{{Base: &buf[0], Len: uint64(len(buf))}}
		remote := []unix.RemoteIovec{{Base: addr, Len: len(buf)}}
		if _, err := unix.ProcessVMReadv(pid, local, remote, 0); err != nil {
			fmt.Printf("vm_readv: %v\n", err)
			return 0
		}
		fmt.Printf("vm_readv: ok %s\n", buf)
		return 0
	}
	return 2
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

	// Without --join, each run has its own namespaces: another user
	// namespace, and the first's memory out of reach (its PID names no
	// process of the second's PID namespace, or another one).
	_ = os.Remove(filepath.Join(dir, "a"))
	_ = os.Remove(filepath.Join(dir, "a.done"))
	solo := append([]string{"--rm", "-v", dir + ":/x"}, helperVolume(t)...)
	other, cancel2 := e.startHusk(runArgs(solo, ref, helperPath, "vm-hold", "/x/a")...)
	defer cancel2()
	for i := 0; i < 600; i++ {
		if _, err := os.Stat(filepath.Join(dir, "a")); err == nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	r = e.sbx(solo, ref, "sh", "-c", "readlink /proc/self/ns/user; "+helperPath+" vm-read /x/a; touch /x/a.done")
	if r.code != 0 || strings.Contains(r.stdout, "vm_readv: ok") || strings.HasPrefix(string(ns), strings.SplitN(r.stdout, "\n", 2)[0]+"\n") {
		t.Errorf("without --join: want another user namespace and process_vm_readv refused: %s", r)
	}
	t.Logf("without --join: %q", r.stdout)
	_ = other.Wait()
	e.wantNoContainers()
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
