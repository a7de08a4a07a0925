package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"husk/integration"
)

// The start bench: `husk run --rm --network none IMAGE true` on a warm store,
// against bwrap --unshare-all on the same unpacked root filesystem (the
// image's layer in husk's store) and podman run, interleaved run by run so
// that load from elsewhere falls on all three alike.

var (
	startRuns = flag.Int("start-runs", 21, "starts per tool in the start bench; the median is reported")
	onlyStart = flag.Bool("only-start", false, "run only the start bench")
)

// Goals of issue 3.
const (
	goalBwrap  = 1.5 // husk at most 1.5 x bwrap
	goalPodman = 20  // husk at least 20 x faster than podman
)

type starter struct {
	name    string
	missing string
	argv    []string
	env     []string
	times   []time.Duration
	failed  error
	close   func()
	before  func() // untimed, before each run
}

func benchStart(husk, work string, reg *integration.Registry) error {
	img, err := integration.BusyboxImage()
	if err != nil {
		return err
	}
	if err := reg.Push("busybox:latest", img); err != nil {
		return err
	}
	ref := reg.Ref("busybox:latest")
	fmt.Printf("\nstart: %s true, warm store, %d runs per tool, interleaved; medians\n", ref, *startRuns)

	h, root, err := huskStarter(husk, work, ref)
	if err != nil {
		return err
	}
	tools := []*starter{h, bwrapStarter(root), podmanStarter(work, ref), firstRunStarter(h)}
	defer func() {
		for _, t := range tools {
			if t.close != nil {
				t.close()
			}
		}
	}()
	for _, t := range tools {
		if t.missing == "" {
			t.once() // warm-up, untimed: page cache, podman's first-run set-up
			if t.failed != nil {
				t.missing = "failed: " + t.failed.Error()
			}
			t.times = nil
		}
	}
	for range *startRuns {
		for _, t := range tools {
			if t.missing == "" && t.failed == nil {
				t.once()
			}
		}
	}
	med := map[string]time.Duration{}
	for _, t := range tools {
		switch {
		case t.missing != "":
			fmt.Printf("  %-7s skipped: %s\n", t.name, t.missing)
		case t.failed != nil:
			fmt.Printf("  %-7s failed: %v\n", t.name, t.failed)
		default:
			slices.Sort(t.times)
			med[t.name] = t.times[len(t.times)/2]
			fmt.Printf("  %-7s %8.1f ms  (min %.1f, max %.1f)\n", t.name, ms(med[t.name]), ms(t.times[0]), ms(t.times[len(t.times)-1]))
		}
	}
	if f, ok := med["husk-first"]; ok {
		fmt.Printf("  husk first run (no image cache, no prelaunch) = %.1f ms, %.2f x a warm run\n", ms(f), f.Seconds()/med["husk"].Seconds())
	}
	defer benchNetwork(h, tools[2], ref)
	defer benchSrun(h, ref)
	defer benchJoin(h, ref)
	defer benchMemory(h, tools[2], ref)
	hm, ok := med["husk"]
	if !ok {
		return nil
	}
	if b, ok := med["bwrap"]; ok {
		r := hm.Seconds() / b.Seconds()
		fmt.Printf("  husk/bwrap  = %.2f  (goal <= %.1f: %s)\n", r, goalBwrap, verdict(r <= goalBwrap))
	} else {
		fmt.Println("  husk/bwrap: no reference (bwrap missing or failed)")
	}
	if p, ok := med["podman"]; ok {
		r := p.Seconds() / hm.Seconds()
		fmt.Printf("  podman/husk = %.1f  (goal >= %d: %s)\n", r, goalPodman, verdict(r >= goalPodman))
	} else {
		fmt.Println("  podman/husk: no reference (podman missing or failed)")
	}
	return nil
}

func (t *starter) once() {
	if t.before != nil {
		t.before()
	}
	start := time.Now()
	err := command(t.env, t.argv[0], t.argv[1:]...)
	d := time.Since(start)
	if err != nil {
		t.failed = err
		return
	}
	t.times = append(t.times, d)
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// huskStarter pulls the image into a store of its own and finds the image's
// unpacked layer there, for bwrap.
func huskStarter(bin, work, ref string) (*starter, string, error) {
	home := filepath.Join(work, "start-husk-home")
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, "", err
	}
	env := append(baseEnv(home), "HUSK_ROOT="+filepath.Join(work, "start-husk-store"))
	if err := command(env, bin, "pull", "-q", ref); err != nil {
		return nil, "", err
	}
	cmd := exec.Command(bin, "info", "--format", "json")
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		return nil, "", fmt.Errorf("husk info: %w", err)
	}
	var info struct {
		Store  struct{ GraphRoot string } `json:"store"`
		Rootfs struct{ Strategy string }  `json:"rootfs"`
	}
	if err := json.Unmarshal(out, &info); err != nil {
		return nil, "", fmt.Errorf("husk info: %w", err)
	}
	fmt.Printf("  husk's root filesystem strategy: %s\n", info.Rootfs.Strategy)
	root := layerDir(info.Store.GraphRoot)
	s := &starter{
		name: "husk",
		argv: []string{bin, "run", "--rm", "--network", "none", ref, "true"},
		env:  env,
		close: func() {
			if err := command(env, bin, "system", "reset", "-f"); err != nil {
				fmt.Fprintln(os.Stderr, "bench: cleaning husk's store:", err)
			}
		},
	}
	return s, root, nil
}

// firstRunStarter is h's run as the first one of its image: the image
// cache (store.ResolvedImage) and the written-down launch are removed before
// each, so the start reads the store in the user namespace.
func firstRunStarter(h *starter) *starter {
	root := ""
	for _, kv := range h.env {
		if v, ok := strings.CutPrefix(kv, "HUSK_ROOT="); ok {
			root = v
		}
	}
	return &starter{name: "husk-first", argv: h.argv, env: h.env, before: func() {
		_ = os.RemoveAll(filepath.Join(root, "startcache")) // both live there
	}}
}

// layerDir is the busybox image's one layer, unpacked, in husk's store
// (overlay keeps it in overlay/ID/diff, vfs in vfs/dir/ID).
func layerDir(graphroot string) string {
	for _, pat := range []string{"overlay/*/diff/bin/busybox", "vfs/dir/*/bin/busybox"} {
		if m, _ := filepath.Glob(filepath.Join(graphroot, pat)); len(m) > 0 {
			return filepath.Dir(filepath.Dir(m[0]))
		}
	}
	return ""
}

func bwrapStarter(root string) *starter {
	s := &starter{name: "bwrap"}
	bin, err := exec.LookPath("bwrap")
	switch {
	case err != nil:
		s.missing = "bwrap is not installed (apt-get install bubblewrap)"
	case root == "":
		s.missing = "the image's unpacked layer was not found in husk's store"
	}
	if s.missing != "" {
		return s
	}
	// The layer has no /proc, /dev or /tmp to mount on, and must not be
	// changed: bwrap's root is a tmpfs with each top-level entry of the
	// layer bound read-only (bwrap 0.8 has no overlay).
	s.argv = []string{bin, "--unshare-all", "--die-with-parent", "--tmpfs", "/"}
	ents, err := os.ReadDir(root)
	if err != nil {
		s.missing = err.Error()
		return s
	}
	for _, e := range ents {
		p := filepath.Join(root, e.Name())
		if e.Type()&os.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			s.argv = append(s.argv, "--symlink", target, "/"+e.Name())
			continue
		}
		s.argv = append(s.argv, "--ro-bind", p, "/"+e.Name())
	}
	s.argv = append(s.argv, "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--remount-ro", "/", "/bin/true")
	s.env = baseEnv(os.TempDir())
	return s
}

// podmanStarter: rootless podman with the overlay driver (as the pull bench
// configures it), its own store with the image pulled, runc (else crun),
// cgroupfs and no network.
func podmanStarter(work, ref string) *starter {
	s := &starter{name: "podman"}
	bin, err := exec.LookPath("podman")
	if err != nil {
		s.missing = "podman is not installed (apt-get install podman)"
		return s
	}
	runtime := "runc"
	if _, err := exec.LookPath("runc"); err != nil {
		runtime = "crun"
	}
	home := filepath.Join(work, "start-podman-home")
	// podman refuses a runroot longer than 50 characters: keep it short.
	run, err := os.MkdirTemp("/tmp", "hs-")
	if err != nil {
		s.missing = err.Error()
		return s
	}
	conf := filepath.Join(home, ".config/containers/storage.conf")
	if err = os.MkdirAll(filepath.Dir(conf), 0o700); err == nil {
		err = os.WriteFile(conf, []byte(fmt.Sprintf("[storage]\ndriver = \"overlay\"\ngraphroot = %q\nrunroot = %q\n",
			filepath.Join(work, "start-podman-store"), filepath.Join(run, "containers"))), 0o600)
	}
	if err != nil {
		s.missing = err.Error()
		return s
	}
	s.env = append(baseEnv(home), "XDG_RUNTIME_DIR="+run)
	s.close = func() {
		// Its layers belong to subordinate ids: removed inside its namespace.
		_ = command(s.env, bin, "unshare", "rm", "-rf", filepath.Join(work, "start-podman-store"), filepath.Join(run, "containers"))
		if data, err := os.ReadFile(filepath.Join(run, "libpod/tmp/pause.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		_ = os.RemoveAll(run)
	}
	global := []string{bin, "--events-backend", "file", "--cgroup-manager", "cgroupfs"}
	if err := command(s.env, global[0], append(global[1:], "pull", "-q", "--tls-verify=false", ref)...); err != nil {
		s.missing = "pulling the image: " + err.Error()
		return s
	}
	s.argv = append(global, "run", "--rm", "--runtime", runtime, "--network", "none", ref, "true")
	fmt.Printf("  podman runs with --runtime %s\n", runtime)
	return s
}
