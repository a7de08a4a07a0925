package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// newPodman: rootless podman with the overlay driver, a cold --root per
// pull, plain HTTP to the loopback registry.
func newPodman(work string) *tool {
	t := &tool{name: "podman"}
	bin, err := exec.LookPath("podman")
	if err != nil {
		t.missing = "podman is not installed (apt-get install podman)"
		return t
	}
	home := filepath.Join(work, "podman-home")
	// podman refuses a runroot longer than 50 characters: keep it short.
	run, err := os.MkdirTemp("/tmp", "hb-")
	if err != nil {
		t.missing = err.Error()
		return t
	}
	conf := filepath.Join(home, ".config/containers/storage.conf")
	if err := os.MkdirAll(filepath.Dir(conf), 0o700); err != nil {
		t.missing = err.Error()
		return t
	}
	if err := os.WriteFile(conf, []byte(fmt.Sprintf("[storage]\ndriver = \"overlay\"\ngraphroot = %q\nrunroot = %q\n",
		filepath.Join(work, "podman-default"), filepath.Join(run, "containers"))), 0o600); err != nil {
		t.missing = err.Error()
		return t
	}
	// Its own XDG_RUNTIME_DIR, so that the pause process podman leaves
	// behind is found by its pid file and ended.
	env := append(baseEnv(home), "XDG_RUNTIME_DIR="+run)
	root := func(i int) []string {
		return []string{"--root", filepath.Join(work, fmt.Sprintf("podman-store-%d", i)),
			"--runroot", filepath.Join(run, fmt.Sprintf("r%d", i))}
	}
	t.pull = func(ref string, i int) error {
		return command(env, bin, append(root(i), "pull", "-q", "--tls-verify=false", ref)...)
	}
	t.push = func(ref, dst string, i int) (time.Duration, error) {
		return timed(env, bin, append(root(i), "push", "-q", "--tls-verify=false", ref, "docker://"+dst)...)
	}
	t.save = func(ref, file string, i int) (time.Duration, error) {
		return timed(env, bin, append(root(i), "save", "-q", "-o", file, ref)...)
	}
	t.load = func(file string, i int) (time.Duration, error) {
		return timed(env, bin, append(root(i), "load", "-q", "-i", file)...)
	}
	t.clean = func(i int) {
		// Its layers belong to subordinate ids: remove them inside podman's
		// user namespace.
		r := root(i)
		if err := command(env, bin, "unshare", "rm", "-rf", r[1], r[3]); err != nil {
			fmt.Fprintln(os.Stderr, "bench: cleaning podman's store:", err)
		}
	}
	t.close = func() {
		data, err := os.ReadFile(filepath.Join(run, "libpod/tmp/pause.pid"))
		if err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		_ = os.RemoveAll(run)
	}
	return t
}

// newSkopeo: skopeo copy into a directory, a fresh one per pull.
func newSkopeo(work string) *tool {
	t := &tool{name: "skopeo"}
	bin, err := exec.LookPath("skopeo")
	if err != nil {
		t.missing = "skopeo is not installed (apt-get install skopeo)"
		return t
	}
	home := filepath.Join(work, "skopeo-home")
	_ = os.MkdirAll(home, 0o700)
	dir := func(i int) string { return filepath.Join(work, fmt.Sprintf("skopeo-dir-%d", i)) }
	t.pull = func(ref string, i int) error {
		return command(baseEnv(home), bin, "--insecure-policy", "copy", "-q", "--src-tls-verify=false",
			"docker://"+ref, "dir:"+dir(i))
	}
	t.push = func(_, dst string, i int) (time.Duration, error) {
		return timed(baseEnv(home), bin, "--insecure-policy", "copy", "-q", "--dest-tls-verify=false", "dir:"+dir(i), "docker://"+dst)
	}
	// Its directory holds the blobs as pulled, already compressed.
	t.pushNote = " (from dir:, sends the blobs as pulled: no compression)"
	t.clean = func(i int) { _ = os.RemoveAll(dir(i)) }
	return t
}
