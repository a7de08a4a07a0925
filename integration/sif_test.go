package integration

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/apptainer/sif/v2/pkg/sif"
)

// Apptainer SIF files (issue 15, item 2): husk run FILE.sif runs the
// SIF's squashfs partition, read in place through husk's FUSE server.

// makeSIF writes a SIF at path as apptainer build lays one out: a
// definition file, then the squashfs file at sqsh as the primary system
// partition of the given file system type ("" for none: a SIF with no
// partition at all).
func makeSIF(t *testing.T, path, sqsh string, fs sif.FSType) {
	t.Helper()
	def, err := sif.NewDescriptorInput(sif.DataDeffile, strings.NewReader("Bootstrap: scratch\n"))
	if err != nil {
		t.Fatal(err)
	}
	dis := []sif.DescriptorInput{def}
	if sqsh != "" {
		f, err := os.Open(sqsh)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		part, err := sif.NewDescriptorInput(sif.DataPartition, f,
			sif.OptPartitionMetadata(fs, sif.PartPrimSys, runtime.GOARCH))
		if err != nil {
			t.Fatal(err)
		}
		dis = append(dis, part)
	}
	img, err := sif.CreateContainerAtPath(path, sif.OptCreateWithDescriptors(dis...))
	if err != nil {
		t.Fatalf("writing the SIF %s: %v", path, err)
	}
	if err := img.UnloadContainer(); err != nil {
		t.Fatal(err)
	}
}

// busyboxRoot is a root filesystem of busybox alone under dir/rootfs,
// with the files given, squashed by mksquashfs into dir/rootfs.sqsh.
func busyboxRoot(t *testing.T, dir string, files map[string]string) string {
	t.Helper()
	root := filepath.Join(dir, "rootfs")
	for _, d := range []string{"bin", "etc", "proc", "dev", "sys", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	bb, err := os.ReadFile(BusyboxPath)
	if err != nil {
		t.Fatal(err)
	}
	files["bin/busybox"] = string(bb)
	for p, data := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, a := range []string{"sh", "cat", "echo"} {
		if err := os.Symlink("busybox", filepath.Join(root, "bin", a)); err != nil {
			t.Fatal(err)
		}
	}
	file := root + ".sqsh"
	if out, err := exec.Command("mksquashfs", root, file, "-noappend", "-quiet", "-all-root").CombinedOutput(); err != nil {
		t.Fatalf("mksquashfs (squashfs-tools, installed by prepare.sh): %v: %s", err, out)
	}
	return file
}

// A SIF of a plain root filesystem (as apptainer builds one) runs: the
// command given, or its runscript (its labels are read too: squash's unit
// test; inspect of a file's container shows no image labels); the user
// without ranges has its own uid alone; writes stay in the sandbox and the
// file is not changed.
func TestSIFRun(t *testing.T) {
	e := sandboxEnv(t, "")
	sqsh := busyboxRoot(t, e.home, map[string]string{
		"etc/greeting":             "from the sif\n",
		".singularity.d/runscript": "#!/bin/sh\necho runscript \"$@\"\n",
	})
	file := filepath.Join(e.home, "app.sif")
	makeSIF(t, file, sqsh, sif.FsSquash)
	sum := fileSum(t, file)
	out := e.sbxOut(nil, file, "sh", "-c", "cat /etc/greeting; echo ---; cat /proc/self/uid_map; echo ---; echo w > /etc/new && cat /etc/new")
	parts := strings.Split(out, "---\n")
	if len(parts) != 3 || parts[0] != "from the sif\n" || parts[2] != "w" {
		t.Fatalf("run of the SIF: %q", out)
	}
	wantUIDMap(t, parts[1])
	if got := e.sbxOut(nil, file); got != "runscript" {
		t.Errorf("run of the SIF without a command: %q, want its runscript's output", got)
	}
	// Its partition's node copy (unpacked at its offset) runs next.
	root := envRoot(e)
	waitUnpacks(t, root)
	out = e.sbxOut(nil, file, "sh", "-c", "cat /etc/greeting; "+lowerLine)
	if greeting, lower, _ := strings.Cut(out, "---\n"); greeting != "from the sif\n" || !strings.HasPrefix(lower, filepath.Join(root, "squashfs")+"/") {
		t.Errorf("a run of the SIF after its first: want its greeting from its node copy under %s/squashfs: %q", root, out)
	}
	if got := fileSum(t, file); got != sum {
		t.Errorf("the SIF changed under runs")
	}
	e.noLeftovers()
}

// A SIF wrapped around husk image squash's file keeps the image's config.
func TestSIFOfSquashedImage(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	sqsh := filepath.Join(e.home, "bb.sqsh")
	e.ok("image", "squash", "-o", sqsh, ref)
	file := filepath.Join(e.home, "bb.sif")
	makeSIF(t, file, sqsh, sif.FsSquash)
	r := e.runInput("echo from-config-cmd; echo $PATH\n", "run", "-i", file)
	if r.code != 0 || r.stdout != "from-config-cmd\n/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n" {
		t.Errorf("the squashed image's own command in a SIF: %s", r)
	}
	if r := e.sbx(nil, file, "sh", "-c", "exit 3"); r.code != 3 {
		t.Errorf("want exit 3: %s", r)
	}
	e.noLeftovers()
}

// What husk cannot run of a SIF is refused in one line naming it.
func TestSIFRefused(t *testing.T) {
	e := sandboxEnv(t, "")
	sqsh := busyboxRoot(t, e.home, map[string]string{})
	none := filepath.Join(e.home, "none.sif")
	makeSIF(t, none, "", 0)
	ext3 := filepath.Join(e.home, "ext3.sif")
	makeSIF(t, ext3, sqsh, sif.FsExt3)
	e.wantRunError(e.run("run", none, "true"), "no system partition", "husk image squash")
	e.wantRunError(e.run("run", "-d", none, "true"), "no system partition")
	e.wantRunError(e.run("run", ext3, "true"), "ext3")
	if out := e.out("ps", "-a", "-q"); out != "" {
		t.Errorf("a refused SIF left a container: %q", out)
	}
}
