package main

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// The memory bench (issue 4): what one idle detached container costs in
// resident memory, summed over husk's processes for it (its monitor and
// its init), against podman's helpers for one (conmon, and slirp4netns or
// pasta and rootlessport with a published port), in the same run.

const goalMemoryMB = 10.0

func benchMemory(h *starter, podman *starter, ref string) {
	fmt.Printf("\nmemory: one idle detached container (sleep) with a published port, resident set sizes summed\n")
	hm, err := huskMemory(h, ref)
	if err != nil {
		fmt.Printf("  husk    failed: %v\n", err)
		return
	}
	fmt.Printf("  husk    %6.1f MB  (%s; the monitor alone %.1f MB)\n", hm.mb(), hm.detail, float64(hm.monitorKB)/1024)
	if podman.missing != "" || podman.failed != nil {
		fmt.Printf("  podman  skipped: %s\n", podman.missing)
	} else if pm, err := podmanMemory(podman, ref); err != nil {
		fmt.Printf("  podman  failed: %v\n", err)
	} else {
		fmt.Printf("  podman  %6.1f MB  (%s)\n", pm.mb(), pm.detail)
		fmt.Printf("  husk/podman = %.2f\n", hm.mb()/pm.mb())
	}
	// The goal is for the monitor, network stack included; the sum
	// with the init is printed beside it.
	fmt.Printf("  goal monitor <= %.0f MB: %s (with its init: %.1f MB)\n", goalMemoryMB, verdict(float64(hm.monitorKB)/1024 <= goalMemoryMB), hm.mb())
}

type memory struct {
	kb        int
	monitorKB int
	detail    string
}

func (m memory) mb() float64 { return float64(m.kb) / 1024 }

func huskMemory(h *starter, ref string) (memory, error) {
	bin := h.argv[0]
	port, err := freeTCP()
	if err != nil {
		return memory{}, err
	}
	// As podman's below: the default network and a published port.
	cmd := exec.Command(bin, "run", "-d", "-p", fmt.Sprintf("127.0.0.1:%d:80", port), ref, "sleep", "1000")
	cmd.Env = h.env
	out, err := cmd.Output()
	if err != nil {
		return memory{}, fmt.Errorf("husk run -d: %w", err)
	}
	id := strings.TrimSpace(string(out))
	defer func() { _ = command(h.env, bin, "rm", "-f", id) }()
	// Idle for a while: past the hand-over to the C init and the monitor's
	// trims of its start-up pages, at what it holds from then on.
	time.Sleep(15 * time.Second)
	var pids []int
	for _, pid := range ownProcesses() {
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		// The monitor names the ID; the init runs `husk run` with the
		// container's ID in its environment.
		env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if bytes.Contains(cmdline, []byte(id)) || bytes.Contains(env, []byte("HUSK_CONTAINER="+id)) {
			pids = append(pids, pid)
		}
	}
	m := sumRSS(pids)
	for _, pid := range pids {
		if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); bytes.Contains(cmdline, []byte("monitor\x00")) {
			m.monitorKB += statusKB(pid, "VmRSS:")
		}
	}
	return m, nil
}

func podmanMemory(p *starter, ref string) (memory, error) {
	args := append(append([]string{}, p.argv[1:indexOf(p.argv, "run")]...), "run", "-d", "--runtime", p.argv[indexOf(p.argv, "--runtime")+1], "-p", "127.0.0.1:18080:80", ref, "sleep", "1000")
	cmd := exec.Command(p.argv[0], args...)
	cmd.Env = p.env
	out, err := cmd.Output()
	if err != nil {
		return memory{}, fmt.Errorf("podman run -d: %w", err)
	}
	id := strings.TrimSpace(string(out))
	defer func() {
		rm := append(append([]string{}, p.argv[1:indexOf(p.argv, "run")]...), "rm", "-f", id)
		_ = command(p.env, p.argv[0], rm...)
	}()
	time.Sleep(time.Second)
	var pids []int
	for _, pid := range ownProcesses() {
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		switch strings.TrimSpace(string(comm)) {
		case "conmon", "slirp4netns", "pasta", "pasta.avx2", "passt", "rootlessport", "rootlessport-ch", "exe":
			pids = append(pids, pid)
		}
	}
	return sumRSS(pids), nil
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return len(list)
}

// ownProcesses are this user's processes.
func ownProcesses() []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		var st syscall.Stat_t
		if syscall.Stat("/proc/"+e.Name(), &st) == nil && int(st.Uid) == os.Getuid() {
			out = append(out, pid)
		}
	}
	return out
}

func sumRSS(pids []int) memory {
	var m memory
	var parts []string
	for _, pid := range pids {
		kb := statusKB(pid, "VmRSS:")
		comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		m.kb += kb
		parts = append(parts, fmt.Sprintf("%s %.1f", strings.TrimSpace(string(comm)), float64(kb)/1024))
	}
	m.detail = strings.Join(parts, " + ")
	return m
}

func statusKB(pid int, key string) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), key); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}
