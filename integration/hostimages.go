package integration

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// Images of the host's own Debian programs (no Docker Hub here): a
// program, the libraries ldd names for it and the directories it reads,
// at the host's paths (its symlinks kept, so /lib64's loader and merged
// /usr work as on the host), in one layer over the busybox image.

// PythonPath is Debian's python3 (integration/prepare.sh installs it).
const PythonPath = "/usr/bin/python3"

// pythonSkip are the stdlib's parts no test needs: its build
// configuration (25 MB), its own tests, the GUI and the old tools.
var pythonSkip = map[string]bool{
	"test": true, "idlelib": true, "tkinter": true, "turtledemo": true, "lib2to3": true,
	"pydoc_data": true, "distutils": true, "ensurepip": true,
}

// PythonImage is busybox plus Debian's python3 and its stdlib; Cmd
// ["python3"].
func PythonImage() (v1.Image, error) {
	if _, err := os.Stat(PythonPath); err != nil {
		return nil, fmt.Errorf("no %s on this host: install python3 (apt-get install -y python3, as integration/prepare.sh does)", PythonPath)
	}
	real, err := filepath.EvalSymlinks(PythonPath)
	if err != nil {
		return nil, err
	}
	// python3.11 finds its stdlib at /usr/lib/python3.11.
	stdlib := filepath.Join("/usr/lib", filepath.Base(real))
	return HostProgramImage(PythonPath, []string{stdlib}, func(rel string, d fs.DirEntry) bool {
		return strings.HasPrefix(rel, "config-") || (d.IsDir() && pythonSkip[rel]) ||
			strings.HasPrefix(d.Name(), "_test") || strings.HasPrefix(d.Name(), "xxlimited")
	}, v1.Config{Cmd: []string{"python3"}, Env: []string{"PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1"}})
}

// Iperf3Path is Debian's iperf3 (a `make bench` reference, prepare.sh).
const Iperf3Path = "/usr/bin/iperf3"

// Iperf3Image is busybox plus Debian's iperf3; Cmd ["iperf3", "-s"].
func Iperf3Image() (v1.Image, error) {
	if _, err := os.Stat(Iperf3Path); err != nil {
		return nil, fmt.Errorf("no %s on this host: install iperf3 (apt-get install -y iperf3, as integration/prepare.sh does)", Iperf3Path)
	}
	return HostProgramImage(Iperf3Path, nil, nil, v1.Config{Cmd: []string{"iperf3", "-s"}})
}

// HostProgramImage is the busybox image with one more layer: the host's
// program, its libraries and dirs (whole, less what skip says, given the
// path relative to the dir), and cfg's Cmd and Env (after busybox's PATH).
func HostProgramImage(program string, dirs []string, skip func(rel string, d fs.DirEntry) bool, cfg v1.Config) (v1.Image, error) {
	base, err := BusyboxImage()
	if err != nil {
		return nil, err
	}
	h := hostTree{entries: map[string]Entry{}}
	libs, err := lddPaths(program)
	if err != nil {
		return nil, err
	}
	for _, p := range append([]string{program}, libs...) {
		if _, err := h.add(p); err != nil {
			return nil, err
		}
	}
	for _, d := range dirs {
		if err := h.addTree(d, skip); err != nil {
			return nil, err
		}
	}
	layer, err := TarLayer(h.sorted())
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(base, layer)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Config.Cmd = cfg.Cmd
	cf.Config.Env = append(cf.Config.Env, cfg.Env...)
	cf.Config.Labels = map[string]string{"org.husk.test": filepath.Base(program)}
	return mutate.ConfigFile(img, cf)
}

// lddLine is a library ldd names: "libm.so.6 => /lib/.../libm.so.6 (0x...)"
// or the loader's "/lib64/ld-linux-x86-64.so.2 (0x...)".
var lddLine = regexp.MustCompile(`(?:=>\s*)?(/\S+)\s+\(0x`)

func lddPaths(program string) ([]string, error) {
	out, err := exec.Command("ldd", program).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd %s: %w", program, err)
	}
	var libs []string
	for _, m := range lddLine.FindAllStringSubmatch(string(out), -1) {
		libs = append(libs, m[1])
	}
	if len(libs) == 0 {
		return nil, fmt.Errorf("ldd %s named no library: %q", program, out)
	}
	return libs, nil
}

// hostTree is a layer's entries by path (no leading slash).
type hostTree struct{ entries map[string]Entry }

// add puts the host's path p into the tree with every directory and
// symlink on its way, and returns p's real path.
func (h *hostTree) add(p string) (string, error) {
	cur := "/"
	for _, c := range strings.Split(strings.Trim(filepath.Clean(p), "/"), "/") {
		next := filepath.Join(cur, c)
		fi, err := os.Lstat(next)
		if err != nil {
			return "", err
		}
		rel := strings.TrimPrefix(next, "/")
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(next)
			if err != nil {
				return "", err
			}
			h.entries[rel] = Symlink(rel, target)
			if !filepath.IsAbs(target) {
				target = filepath.Join(cur, target)
			}
			if next, err = h.add(target); err != nil {
				return "", err
			}
		case fi.IsDir():
			h.entries[rel] = Dir(rel+"/", int64(fi.Mode().Perm()), 0, 0)
		case fi.Mode().IsRegular():
			h.entries[rel] = hostFile(next, rel, fi)
		default:
			return "", fmt.Errorf("%s: neither file, directory nor symlink", next)
		}
		cur = next
	}
	return cur, nil
}

// addTree adds dir and what it holds; symlinks inside are kept as they are.
func (h *hostTree) addTree(dir string, skip func(string, fs.DirEntry) bool) error {
	real, err := h.add(dir)
	if err != nil {
		return err
	}
	return filepath.WalkDir(real, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == real {
			return err
		}
		relToDir, _ := filepath.Rel(real, p)
		if skip != nil && skip(relToDir, d) {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel := strings.TrimPrefix(p, "/")
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			h.entries[rel] = Symlink(rel, target)
		case d.IsDir():
			h.entries[rel] = Dir(rel+"/", int64(fi.Mode().Perm()), 0, 0)
		case fi.Mode().IsRegular():
			h.entries[rel] = hostFile(p, rel, fi)
		}
		return nil
	})
}

// hostFile is the host's regular file, read as the layer is written.
func hostFile(path, rel string, fi fs.FileInfo) Entry {
	return Entry{
		Hdr: tar.Header{Typeflag: tar.TypeReg, Name: rel, Mode: int64(fi.Mode().Perm()), Size: fi.Size(), ModTime: epoch},
		Body: func(w io.Writer) error {
			f, err := os.Open(path)
			if err != nil {
				return err
			}
			defer f.Close()
			_, err = io.CopyN(w, f, fi.Size())
			return err
		},
	}
}

// sorted puts each directory before what it holds.
func (h *hostTree) sorted() []Entry {
	names := make([]string, 0, len(h.entries))
	for n := range h.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]Entry, 0, len(names))
	for _, n := range names {
		out = append(out, h.entries[n])
	}
	return out
}
