package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"husk/integration"
)

// The build bench (issue 13): one multi-stage Dockerfile built by husk and
// by `podman build` in the same run, from a base image both stores already
// hold: cold (no cache), again with everything cached, and after one
// source file changed.

var onlyBuild = flag.Bool("only-build", false, "run only the build bench")

// Goals of issue 13.
const (
	goalBuildCold   = 0.5 // husk's cold build at most 0.5 x podman's
	goalBuildCached = 200 * time.Millisecond
)

type builder struct {
	name    string
	missing string
	build   func(ctx string) (time.Duration, error)
	close   func()
}

func benchBuild(husk, work string, reg *integration.Registry) error {
	img, err := integration.BusyboxImage()
	if err != nil {
		return err
	}
	if err := reg.Push("busybox:latest", img); err != nil {
		return err
	}
	ref := reg.Ref("busybox:latest")
	ctx, err := buildContext(filepath.Join(work, "build-ctx"), ref)
	if err != nil {
		return err
	}
	fmt.Printf("\nbuild: a three-stage Dockerfile (two RUN, three COPY), base %s pulled beforehand\n", ref)
	tools := []*builder{huskBuilder(husk, work, ref), podmanBuilder(work, ref)}
	defer func() {
		for _, t := range tools {
			if t.close != nil {
				t.close()
			}
		}
	}()
	results := map[string]map[string]time.Duration{}
	for _, phase := range []string{"cold", "cached", "one file changed"} {
		if phase == "one file changed" {
			if err := os.WriteFile(filepath.Join(ctx, "src", "f7.txt"), []byte("changed\n"), 0o644); err != nil {
				return err
			}
		}
		fmt.Printf("  %s:\n", phase)
		for _, t := range tools {
			if t.missing != "" {
				fmt.Printf("    %-7s skipped: %s\n", t.name, t.missing)
				continue
			}
			d, err := t.build(ctx)
			if err != nil {
				fmt.Printf("    %-7s failed: %v\n", t.name, err)
				continue
			}
			if results[t.name] == nil {
				results[t.name] = map[string]time.Duration{}
			}
			results[t.name][phase] = d
			fmt.Printf("    %-7s %7.3f s\n", t.name, d.Seconds())
		}
		h, hok := results["husk"][phase]
		p, pok := results["podman"][phase]
		if hok && pok {
			fmt.Printf("    husk/podman = %.2f\n", h.Seconds()/p.Seconds())
		}
	}
	if d, ok := results["husk"]["cold"]; ok {
		if p, ok := results["podman"]["cold"]; ok {
			fmt.Printf("  goal cold <= %.1f x podman: %s\n", goalBuildCold, verdict(d.Seconds() <= goalBuildCold*p.Seconds()))
		}
	}
	if d, ok := results["husk"]["cached"]; ok {
		fmt.Printf("  goal cached rebuild < %v: %s\n", goalBuildCached, verdict(d < goalBuildCached))
	}
	return nil
}

// buildContext writes the Dockerfile and 50 source files.
func buildContext(dir, base string) (string, error) {
	if err := os.MkdirAll(filepath.Join(dir, "src"), 0o755); err != nil {
		return "", err
	}
	for i := 0; i < 50; i++ {
		body := strings.Repeat(fmt.Sprintf("line %d\n", i), 200)
		if err := os.WriteFile(filepath.Join(dir, "src", fmt.Sprintf("f%d.txt", i)), []byte(body), 0o644); err != nil {
			return "", err
		}
	}
	df := "FROM " + base + ` AS deps
RUN mkdir -p /out && for i in $(seq 1 300); do echo "dep $i" > /out/d$i; done
FROM ` + base + ` AS build
COPY src/ /src/
RUN cat /src/*.txt | wc -l > /app.txt
FROM ` + base + `
COPY --from=deps /out /deps
COPY --from=build /app.txt /app.txt
CMD ["cat", "/app.txt"]
`
	return dir, os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte(df), 0o644)
}

func huskBuilder(bin, work, ref string) *builder {
	home := filepath.Join(work, "build-husk-home")
	_ = os.MkdirAll(home, 0o700)
	env := append(baseEnv(home), "HUSK_ROOT="+filepath.Join(work, "build-husk-store"))
	b := &builder{name: "husk"}
	if err := command(env, bin, "pull", "-q", ref); err != nil {
		b.missing = "pulling the base: " + err.Error()
		return b
	}
	b.build = func(ctx string) (time.Duration, error) {
		return timed(env, bin, "build", "-q", "-t", "bench-app", ctx)
	}
	b.close = func() { _ = command(env, bin, "system", "reset", "-f") }
	return b
}

// podmanBuilder: rootless podman as the other benches set it up (overlay,
// runc, cgroupfs), its own store with the base pulled.
func podmanBuilder(work, ref string) *builder {
	b := &builder{name: "podman"}
	bin, err := exec.LookPath("podman")
	if err != nil {
		b.missing = "podman is not installed (apt-get install podman)"
		return b
	}
	runtime := "runc"
	if _, err := exec.LookPath("runc"); err != nil {
		runtime = "crun"
	}
	home := filepath.Join(work, "build-podman-home")
	run, err := os.MkdirTemp("/tmp", "hbb-") // podman refuses a long runroot
	if err != nil {
		b.missing = err.Error()
		return b
	}
	store := filepath.Join(work, "build-podman-store")
	conf := filepath.Join(home, ".config/containers/storage.conf")
	if err = os.MkdirAll(filepath.Dir(conf), 0o700); err == nil {
		err = os.WriteFile(conf, []byte(fmt.Sprintf("[storage]\ndriver = \"overlay\"\ngraphroot = %q\nrunroot = %q\n",
			store, filepath.Join(run, "containers"))), 0o600)
	}
	if err != nil {
		b.missing = err.Error()
		return b
	}
	env := append(baseEnv(home), "XDG_RUNTIME_DIR="+run)
	global := []string{"--events-backend", "file", "--cgroup-manager", "cgroupfs", "--runtime", runtime}
	b.close = func() {
		_ = command(env, bin, "unshare", "rm", "-rf", store, filepath.Join(run, "containers"))
		if data, err := os.ReadFile(filepath.Join(run, "libpod/tmp/pause.pid")); err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 1 {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		_ = os.RemoveAll(run)
	}
	if err := command(env, bin, append(global, "pull", "-q", "--tls-verify=false", ref)...); err != nil {
		b.missing = "pulling the base: " + err.Error()
		return b
	}
	b.build = func(ctx string) (time.Duration, error) {
		return timed(env, bin, append(global, "build", "-q", "--tls-verify=false", "-t", "bench-app", ctx)...)
	}
	return b
}
