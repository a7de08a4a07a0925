package ctrfs

import (
	"archive/tar"
	"errors"
	"io"
	"path"
	"slices"
	"strings"

	"go.podman.io/storage/pkg/archive"
)

// startMounts are what every start mounts over the root (sandbox/ops.go,
// and the files of sandbox/container.go), whose mount points it makes in
// the upper layer where the image lacks them. Docker keeps these in an
// init layer that diff and commit leave out; husk leaves them out here.
var startMounts = []string{"/dev", "/proc", "/sys", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf"}

// ofStart reports whether p (absolute) is one of them or under one.
func ofStart(p string) bool {
	p = path.Clean("/" + p)
	for _, m := range startMounts {
		if p == m || strings.HasPrefix(p, m+"/") {
			return true
		}
	}
	return false
}

// withoutStartMounts leaves out the start's mount points, and the
// markers fuse-overlayfs keeps in its upper layer (a new directory's
// ".wh..wh..opq" file, and the whiteout that hides it, ".wh..opq").
func withoutStartMounts(in []archive.Change) []archive.Change {
	var out []archive.Change
	for _, c := range in {
		if !ofStart(c.Path) && !strings.HasPrefix(path.Base(c.Path), archive.WhiteoutPrefix) {
			out = append(out, c)
		}
	}
	// A directory changed only by the mount points made in it (/etc for
	// /etc/hosts) is not the container's change either.
	return slices.DeleteFunc(out, func(c archive.Change) bool {
		return c.Kind == archive.ChangeModify && holdsStartMount(c.Path) && !slices.ContainsFunc(out, func(o archive.Change) bool {
			return strings.HasPrefix(o.Path, c.Path+"/")
		})
	})
}

func holdsStartMount(dir string) bool {
	for _, m := range startMounts {
		if path.Dir(m) == dir {
			return true
		}
	}
	return false
}

// copyWithoutStartMounts copies a tar, leaving their entries out, and
// any entry a second time: fuse-overlayfs marks an opaque directory with
// a ".wh..wh..opq" file and a whiteout of ".wh..opq", which
// containers/storage's overlay conversion makes a second such file.
func copyWithoutStartMounts(w io.Writer, r io.Reader) error {
	tr, tw := tar.NewReader(r), tar.NewWriter(w)
	seen := map[string]bool{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return tw.Close()
		}
		if err != nil {
			return err
		}
		name := path.Clean("/" + h.Name)
		if ofStart(name) || seen[name] {
			continue
		}
		seen[name] = true
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if _, err := io.Copy(tw, tr); err != nil {
			return err
		}
	}
}
