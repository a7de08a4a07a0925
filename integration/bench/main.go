// Command bench times `husk pull` into a cold store against `podman pull`
// and `skopeo copy` to a directory, from a docker-registry on 127.0.0.1,
// all measured in the same run; then push, save and load of the same
// images against podman's (saves.go), starts and builds. integration/bench.sh
// (make bench) runs it as an unprivileged user.
package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"husk/integration"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	trafficMain(os.Args[1:])
	husk := flag.String("husk", "./husk", "the husk binary")
	work := flag.String("work", "", "a scratch directory (default: a new one under $TMPDIR)")
	runs := flag.Int("runs", 3, "cold pulls per tool and image; the median is reported")
	flag.Parse()
	if err := run(*husk, *work, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// benchImage is one image under test.
type benchImage struct {
	name   string
	repo   string
	img    v1.Image
	size   int64 // compressed bytes of its layers
	layers int
}

func run(husk, work string, runs int) error {
	var err error
	if husk, err = filepath.Abs(husk); err != nil {
		return err
	}
	if work == "" {
		if work, err = os.MkdirTemp("", "husk-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(work)
	}
	reg, err := integration.StartRegistry(filepath.Join(work, "registry"), integration.RegistryOptions{})
	if err != nil {
		return err
	}
	defer reg.Stop()
	if *onlyStart {
		return benchStart(husk, work, reg)
	}
	if *onlyBuild {
		return benchBuild(husk, work, reg)
	}
	if *onlySquash {
		return benchSquash(husk, work, reg)
	}
	if *onlyUsernet {
		return benchUsernet(husk, work, reg)
	}

	fmt.Println("bench: generating images (incompressible data)...")
	imgs, err := makeImages(filepath.Join(work, "layers"))
	if err != nil {
		return err
	}
	for _, bi := range imgs {
		if err := reg.Push(bi.repo, bi.img); err != nil {
			return err
		}
	}

	tools := []*tool{newHusk(husk, work), newPodman(work), newSkopeo(work)}
	defer func() {
		for _, t := range tools {
			if t.close != nil {
				t.close()
			}
		}
	}()
	if *onlySave {
		return benchSaveOnly(tools, imgs, work, reg, runs)
	}
	fmt.Printf("bench: %d cold pulls per tool and image from %s, the tools in turn; medians\n", runs, reg.Addr)
	// The stores are emptied after the last timed pull, not between pulls:
	// see timePulls.
	defer cleanAll(tools, len(imgs)*runs)
	for k, bi := range imgs {
		ref := reg.Ref(bi.repo)
		fmt.Printf("\n%s: %d layer(s), %.1f MB compressed\n", bi.name, bi.layers, float64(bi.size)/1e6)
		med, failed := timePulls(tools, ref, k*runs, runs)
		for _, t := range tools {
			switch {
			case t.missing != "":
				fmt.Printf("  %-7s skipped: %s\n", t.name, t.missing)
			case failed[t.name] != nil:
				fmt.Printf("  %-7s failed: %v\n", t.name, failed[t.name])
			default:
				fmt.Printf("  %-7s %6.2f s\n", t.name, med[t.name].Seconds())
			}
		}
		h, ok := med["husk"]
		if !ok {
			continue
		}
		for _, ref := range []string{"podman", "skopeo"} {
			if d, ok := med[ref]; ok {
				fmt.Printf("  husk/%s = %.2f\n", ref, h.Seconds()/d.Seconds())
			}
		}
		if d, ok := med["podman"]; ok {
			verdict := "met"
			if h.Seconds() > d.Seconds()/2 {
				verdict = "NOT met"
			}
			fmt.Printf("  goal husk <= 0.5 x podman: %s\n", verdict)
		}
		// Store k*runs holds this image for every tool.
		reportPushes(tools, ref, sameRegistry(reg.Addr), "a new repository of the same registry (blobs mounted)", k*runs, runs)
		if bi.layers > 1 {
			reportSaveLoad(tools, ref, work, k*runs, runs)
		}
	}
	if err := benchStart(husk, work, reg); err != nil {
		return err
	}
	if err := benchBuild(husk, work, reg); err != nil {
		return err
	}
	if err := benchSquash(husk, work, reg); err != nil {
		return err
	}
	return benchUsernet(husk, work, reg)
}

// makeImages: one layer of ~60 MB, and five layers of ~8 MB each, of
// random bytes (incompressible) in thousands of files, written once to
// files.
func makeImages(dir string) ([]benchImage, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	mk := func(name string, sizes []int64) (benchImage, error) {
		bi := benchImage{name: name, repo: name + ":latest", layers: len(sizes)}
		var layers []v1.Layer
		for i, size := range sizes {
			path := filepath.Join(dir, fmt.Sprintf("%s-%d.tar.gz", name, i))
			f, err := os.Create(path)
			if err != nil {
				return bi, err
			}
			err = integration.WriteLayer(f, manyFiles(name, i, size))
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return bi, err
			}
			l, err := tarball.LayerFromFile(path)
			if err != nil {
				return bi, err
			}
			n, _ := l.Size()
			bi.size += n
			layers = append(layers, l)
		}
		img, err := integration.NewImage("amd64", v1.Config{Cmd: []string{"/bin/sh"}}, layers...)
		bi.img = img
		return bi, err
	}
	one, err := mk("single", []int64{60 << 20})
	if err != nil {
		return nil, err
	}
	five, err := mk("five", []int64{8 << 20, 8 << 20, 8 << 20, 8 << 20, 8 << 20})
	if err != nil {
		return nil, err
	}
	return []benchImage{one, five}, nil
}

// manyFiles spreads size random bytes over files of 25 KB in directories of
// 50, as a distribution's base layer holds thousands of files: extracting
// them is a real part of a pull.
func manyFiles(name string, layer int, size int64) []integration.Entry {
	const fileSize = 25 << 10
	entries := []integration.Entry{integration.File("layer", 0o644, 0, 0, name+" "+strconv.Itoa(layer)+"\n")}
	for n := int64(0); n*fileSize < size; n++ {
		dir := fmt.Sprintf("data/%03d/", n/50)
		if n%50 == 0 {
			entries = append(entries, integration.Dir(dir, 0o755, 0, 0))
		}
		sz := min(fileSize, size-n*fileSize)
		seed := uint64(layer)<<32 | uint64(n)
		entries = append(entries, integration.Generated(fmt.Sprintf("%sf%05d", dir, n), sz, randomBytes(seed+uint64(len(name))<<48, sz)))
	}
	return entries
}

func randomBytes(seed uint64, n int64) func(io.Writer) error {
	return func(w io.Writer) error {
		var key [32]byte
		binary.LittleEndian.PutUint64(key[:], seed)
		r := rand.NewChaCha8(key)
		buf := make([]byte, min(n, 1<<20))
		for left := n; left > 0; {
			k := min(left, int64(len(buf)))
			_, _ = r.Read(buf[:k])
			if _, err := w.Write(buf[:k]); err != nil {
				return err
			}
			left -= k
		}
		return nil
	}
}

// tool is one puller: pull makes cold pull number i (into a store of its
// own), clean empties that store (not timed).
type tool struct {
	name    string
	missing string // why it cannot run here
	pull    func(ref string, i int) error
	clean   func(i int)
	close   func()
	// push sends ref from store i to dst and says how long the push took.
	push     func(ref, dst string, i int) (time.Duration, error)
	pushNote string // how its push differs from husk's
	// save writes ref of store i to file; load reads file into store i.
	save func(ref, file string, i int) (time.Duration, error)
	load func(file string, i int) (time.Duration, error)
}

// command runs name args in env, returning its output in the error.
func command(env []string, name string, args ...string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, lastLines(out.String(), 3))
	}
	return nil
}

func lastLines(s string, n int) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, " | ")
}

func baseEnv(home string) []string {
	return []string{"HOME=" + home, "PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "LANG=C.UTF-8"}
}

func newHusk(bin, work string) *tool {
	home := filepath.Join(work, "husk-home")
	_ = os.MkdirAll(home, 0o700)
	env := func(i int) []string {
		return append(baseEnv(home), "HUSK_ROOT="+filepath.Join(work, fmt.Sprintf("husk-store-%d", i)))
	}
	return &tool{
		name: "husk",
		pull: func(ref string, i int) error { return command(env(i), bin, "pull", "-q", ref) },
		push: func(ref, dst string, i int) (time.Duration, error) {
			if err := command(env(i), bin, "tag", ref, dst); err != nil {
				return 0, err
			}
			return timed(env(i), bin, "push", "-q", dst)
		},
		save: func(ref, file string, i int) (time.Duration, error) {
			return timed(env(i), bin, "save", "-o", file, ref)
		},
		load: func(file string, i int) (time.Duration, error) {
			return timed(env(i), bin, "load", "-q", "-i", file)
		},
		clean: func(i int) {
			if err := command(env(i), bin, "system", "reset", "-f"); err != nil {
				fmt.Fprintln(os.Stderr, "bench: cleaning husk's store:", err)
			}
		},
	}
}
