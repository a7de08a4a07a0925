package integration

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BusyboxPath is busybox-static's binary, the test images' userland.
const BusyboxPath = "/bin/busybox"

// SetuidScript is the content of the layers image's setuid file.
const SetuidScript = "#!/bin/sh\necho setuid\n"

// BigFileSize is the size of the layers image's big file.
const BigFileSize = 100 << 20

// Applets get a symlink to busybox in /bin.
var Applets = []string{
	"sh", "ls", "cat", "echo", "id", "stat", "true", "false", "sleep", "env",
	"mkdir", "rm", "touch", "ln", "readlink", "printf", "test", "wc", "head",
	"tail", "grep", "sed", "awk", "ps", "uname", "hostname", "whoami", "chmod",
	"chown", "cp", "mv", "pwd", "find", "du", "df", "kill", "tr", "cut", "sort",
	"date", "mount", "umount", "ip", "wget", "nc", "vi",
}

// NewImage makes a linux image of the given layers with a fixed creation
// time and config.
func NewImage(arch string, cfg v1.Config, layers ...v1.Layer) (v1.Image, error) {
	img, err := mutate.AppendLayers(empty.Image, layers...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.Architecture = arch
	cf.OS = "linux"
	cf.Created = v1.Time{Time: epoch}
	cf.Config = cfg
	return mutate.ConfigFile(img, cf)
}

// BusyboxImage: busybox-static with applet links, /etc/passwd and /etc/group
// naming root, tester (1000) and nobody (65534); Cmd ["sh"].
func BusyboxImage() (v1.Image, error) {
	bb, err := os.ReadFile(BusyboxPath)
	if err != nil {
		return nil, fmt.Errorf("reading %s (install busybox-static): %w", BusyboxPath, err)
	}
	entries := []Entry{
		Dir("bin/", 0o755, 0, 0),
		{Hdr: File("bin/busybox", 0o755, 0, 0, "").Hdr, Data: bb},
	}
	entries[1].Hdr.Size = int64(len(bb))
	for _, a := range Applets {
		entries = append(entries, Symlink("bin/"+a, "busybox"))
	}
	entries = append(entries,
		Dir("etc/", 0o755, 0, 0),
		File("etc/passwd", 0o644, 0, 0, "root:x:0:0:root:/root:/bin/sh\n"+
			"tester:x:1000:1000:tester:/home/tester:/bin/sh\n"+
			"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"),
		File("etc/group", 0o644, 0, 0, "root:x:0:\ntester:x:1000:\nnogroup:x:65534:\n"),
		Dir("root/", 0o700, 0, 0),
		Dir("home/", 0o755, 0, 0),
		Dir("home/tester/", 0o755, 1000, 1000),
		Dir("tmp/", 0o1777, 0, 0),
	)
	layer, err := TarLayer(entries)
	if err != nil {
		return nil, err
	}
	return NewImage("amd64", v1.Config{
		Env:        []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
		Cmd:        []string{"sh"},
		WorkingDir: "/",
		Labels:     map[string]string{"org.husk.test": "busybox"},
	}, layer)
}

// LayersImage: three layers. The first has files of uids 0, 1000 and 65534,
// a setuid file, symlinks, hard links, a 100 MB file, a directory the third
// layer makes opaque and files it whites out; the second is empty.
func LayersImage() (v1.Image, error) {
	l1, err := TarLayer([]Entry{
		Dir("owners/", 0o755, 0, 0),
		File("owners/root-file", 0o644, 0, 0, "root\n"),
		File("owners/tester-file", 0o644, 1000, 1000, "tester\n"),
		File("owners/nobody-file", 0o644, 65534, 65534, "nobody\n"),
		Dir("owners/tester-dir/", 0o750, 1000, 1000),
		File("setuid-bin", 0o4755, 0, 0, SetuidScript),
		Dir("opaque/", 0o755, 0, 0),
		File("opaque/old1", 0o644, 0, 0, "old1\n"),
		File("opaque/old2", 0o644, 0, 0, "old2\n"),
		Dir("opaque/sub/", 0o755, 0, 0),
		File("opaque/sub/old3", 0o644, 0, 0, "old3\n"),
		File("gone", 0o644, 0, 0, "whited out by layer 3\n"),
		Dir("gone-dir/", 0o755, 0, 0),
		File("gone-dir/inner", 0o644, 0, 0, "inner\n"),
		Dir("links/", 0o755, 0, 0),
		File("links/target", 0o644, 0, 0, "target\n"),
		Symlink("links/rel", "target"),
		Symlink("links/abs", "/links/target"),
		Symlink("links/up", "../owners/root-file"),
		Dir("hard/", 0o755, 0, 0),
		File("hard/orig", 0o644, 0, 0, "hard\n"),
		Hardlink("hard/link1", "hard/orig"),
		Hardlink("hard/link2", "hard/orig"),
		Dir("big/", 0o755, 0, 0),
		Generated("big/zeros", BigFileSize, Zeros(BigFileSize)),
	})
	if err != nil {
		return nil, err
	}
	l2, err := TarLayer(nil)
	if err != nil {
		return nil, err
	}
	l3, err := TarLayer([]Entry{
		File(".wh.gone", 0o644, 0, 0, ""),
		File(".wh.gone-dir", 0o644, 0, 0, ""),
		Dir("opaque/", 0o755, 0, 0),
		File("opaque/.wh..wh..opq", 0o644, 0, 0, ""),
		File("opaque/new1", 0o644, 0, 0, "new1\n"),
		File("added", 0o644, 0, 0, "layer 3\n"),
	})
	if err != nil {
		return nil, err
	}
	return NewImage("amd64", v1.Config{Cmd: []string{"/bin/sh"}}, l1, l2, l3)
}

// MultiarchIndex: a manifest list with linux/amd64 and linux/arm64 images,
// each with a file /arch naming its architecture.
func MultiarchIndex() (v1.ImageIndex, error) {
	idx := mutate.IndexMediaType(empty.Index, types.DockerManifestList)
	for _, arch := range []string{"amd64", "arm64"} {
		layer, err := TarLayer([]Entry{File("arch", 0o644, 0, 0, arch+"\n")})
		if err != nil {
			return nil, err
		}
		img, err := NewImage(arch, v1.Config{Cmd: []string{"/bin/sh"}}, layer)
		if err != nil {
			return nil, err
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add:        img,
			Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arch}},
		})
	}
	return idx, nil
}

// EscapeImages: one image per way a layer can reach outside the root. The
// names of the files they would write start with "husk-escape-" so a test
// can look for them.
func EscapeImages() (map[string]v1.Image, error) {
	layers := map[string][]Entry{
		"escape-dotdot": {
			File("ok", 0o644, 0, 0, "ok\n"),
			File("../husk-escape-dotdot", 0o644, 0, 0, "escaped\n"),
		},
		"escape-abs": {
			File("/husk-escape-abs", 0o644, 0, 0, "escaped\n"),
		},
		"escape-symlink": {
			Symlink("link", "../../.."),
			File("link/husk-escape-symlink", 0o644, 0, 0, "escaped\n"),
		},
		"escape-hardlink": {
			File("ok", 0o644, 0, 0, "ok\n"),
			Hardlink("husk-escape-hardlink", "../../../../../../../../../../etc/passwd"),
		},
	}
	out := map[string]v1.Image{}
	for name, entries := range layers {
		layer, err := TarLayer(entries)
		if err != nil {
			return nil, err
		}
		img, err := NewImage("amd64", v1.Config{Cmd: []string{"/bin/sh"}}, layer)
		if err != nil {
			return nil, err
		}
		out[name] = img
	}
	return out, nil
}

// UniqueImage is a one-layer image whose layer no other image shares (so a
// test may corrupt its blob in the registry).
func UniqueImage(tag string) (v1.Image, error) {
	layer, err := TarLayer([]Entry{
		File("unique", 0o644, 0, 0, fmt.Sprintf("%s %d\n", tag, os.Getpid())),
		Generated("filler", 1<<20, Zeros(1<<20)),
	})
	if err != nil {
		return nil, err
	}
	return NewImage("amd64", v1.Config{Cmd: []string{"/bin/sh"}}, layer)
}

// MPIDirs are Open MPI's and PMIx's plugin, data and configuration
// directories on a Debian host (openmpi-bin, libopenmpi-dev): the MCA
// components, their help texts and default parameters. hwloc's optional
// plugins stay out (they pull in X11 and ICU).
var MPIDirs = []string{
	"/usr/lib/x86_64-linux-gnu/openmpi/lib/openmpi3",
	"/usr/share/openmpi",
	"/etc/openmpi",
	"/usr/lib/x86_64-linux-gnu/pmix2/lib/pmix",
	"/usr/lib/x86_64-linux-gnu/pmix2/share",
}

// MPIImage is the busybox image plus a layer of the host's Open MPI: the
// program hello (an MPI binary made by mpicc) as /usr/local/bin/mpi_hello,
// the shared libraries that ldd names for it and for every plugin in
// MPIDirs, and MPIDirs themselves, each at its host path, with the
// symlinks on the way (/lib, /lib64 and the libraries' sonames) kept.
func MPIImage(busybox v1.Image, hello string) (v1.Image, error) {
	c := &hostFiles{seen: map[string]bool{}, walked: map[string]bool{}}
	c.entries = append(c.entries, Dir("usr/", 0o755, 0, 0), Dir("usr/local/", 0o755, 0, 0), Dir("usr/local/bin/", 0o755, 0, 0))
	c.seen["/usr"], c.seen["/usr/local"], c.seen["/usr/local/bin"] = true, true, true
	prog, err := os.ReadFile(hello)
	if err != nil {
		return nil, err
	}
	c.entries = append(c.entries, Entry{Hdr: File("usr/local/bin/mpi_hello", 0o755, 0, 0, "").Hdr, Data: prog})
	c.entries[len(c.entries)-1].Hdr.Size = int64(len(prog))
	objects := []string{hello}
	for _, d := range MPIDirs {
		err := filepath.WalkDir(d, func(p string, de fs.DirEntry, err error) error {
			if err == nil && de.Type().IsRegular() && strings.HasSuffix(p, ".so") {
				objects = append(objects, p)
			}
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("reading Open MPI's %s (apt-get install openmpi-bin libopenmpi-dev): %w", d, err)
		}
		if err := c.add(d, true); err != nil {
			return nil, err
		}
	}
	for _, o := range objects {
		out, err := exec.Command("ldd", o).Output()
		if err != nil {
			return nil, fmt.Errorf("ldd %s: %w", o, err)
		}
		for _, l := range strings.Split(string(out), "\n") {
			for _, f := range strings.Fields(l) {
				if strings.HasPrefix(f, "/") {
					if err := c.add(f, false); err != nil {
						return nil, err
					}
				}
			}
		}
	}
	layer, err := TarLayer(c.entries)
	if err != nil {
		return nil, err
	}
	base, err := busybox.Layers()
	if err != nil {
		return nil, err
	}
	cf, err := busybox.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg := cf.Config
	cfg.Cmd = []string{"/usr/local/bin/mpi_hello"}
	cfg.Labels = map[string]string{"org.husk.test": "mpi"}
	return NewImage("amd64", cfg, append(base, layer)...)
}

// hostFiles collects host files as layer entries at their own paths.
type hostFiles struct {
	entries []Entry
	seen    map[string]bool // entries made
	walked  map[string]bool // directories whose trees were added
}

// add adds the absolute path p: each directory on the way, each symlink on
// the way (and then what it points to), and with whole, a directory's tree.
// Entries are made at real paths only, never through a symlink.
func (c *hostFiles) add(p string, whole bool) error {
	p = filepath.Clean(p)
	if p == "/" {
		return nil
	}
	parent := filepath.Dir(p)
	if err := c.add(parent, false); err != nil {
		return err
	}
	if real, err := filepath.EvalSymlinks(parent); err != nil {
		return err
	} else if real != parent {
		return c.add(filepath.Join(real, filepath.Base(p)), whole)
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return err
	}
	name := strings.TrimPrefix(p, "/")
	if !c.seen[p] {
		c.seen[p] = true
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			c.entries = append(c.entries, Symlink(name, target))
			if !filepath.IsAbs(target) {
				target = filepath.Join(parent, target)
			}
			return c.add(target, whole)
		case fi.IsDir():
			c.entries = append(c.entries, Dir(name+"/", int64(fi.Mode().Perm()), 0, 0))
		case fi.Mode().IsRegular():
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			e := File(name, int64(fi.Mode().Perm()), 0, 0, "")
			e.Hdr.Size, e.Data = int64(len(data)), data
			c.entries = append(c.entries, e)
		}
	}
	if !whole || !fi.IsDir() || c.walked[p] {
		return nil
	}
	c.walked[p] = true
	des, err := os.ReadDir(p)
	if err != nil {
		return err
	}
	for _, de := range des {
		if err := c.add(filepath.Join(p, de.Name()), true); err != nil {
			return err
		}
	}
	return nil
}
