package ctrfs

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	securejoin "github.com/cyphar/filepath-securejoin"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/chrootarchive"
	"go.podman.io/storage/pkg/idtools"
)

// Paths inside a container are resolved inside its root with securejoin:
// a symlink on the way is followed as the container would follow it, and
// an absolute or climbing one stays under the root. Reads and writes go
// through containers/storage's chrooted tar and untar, so that no link in
// the tar or in the container, swapped in while they walk, leads out of
// it. (A running container is written from inside it: joined.go.)

// inside is path p of the container under root, every symlink on the way
// resolved in the root; with follow false, the last element is left as
// it is (Docker's cp without -L). Docker's trailing "/" and "/." stay.
func inside(root, p string, follow bool) (string, error) {
	clean := archive.PreserveTrailingDotOrSeparator(filepath.Clean("/"+p), p)
	if follow {
		r, err := securejoin.SecureJoin(root, clean)
		if err != nil {
			return "", err
		}
		return archive.PreserveTrailingDotOrSeparator(r, clean), nil
	}
	dir, base := filepath.Split(clean)
	r, err := securejoin.SecureJoin(root, dir)
	if err != nil {
		return "", err
	}
	if base == "" { // "/" or a trailing separator
		return archive.PreserveTrailingDotOrSeparator(r, clean), nil
	}
	return r + string(filepath.Separator) + base, nil
}

// SourceIn is what `cp CONTAINER:SRC ...` copies: src resolved in root.
func SourceIn(root, src string, follow bool) (archive.CopyInfo, error) {
	p, err := inside(root, src, follow)
	if err != nil {
		return archive.CopyInfo{}, err
	}
	fi, err := os.Lstat(strings.TrimSuffix(p, "/."))
	if err != nil {
		return archive.CopyInfo{}, fmt.Errorf("%s: no such file or directory in the container", src)
	}
	if (strings.HasSuffix(src, "/") || strings.HasSuffix(src, "/.")) && !fi.IsDir() {
		return archive.CopyInfo{}, fmt.Errorf("%s: not a directory", src)
	}
	info := archive.CopyInfo{Path: p, Exists: true, IsDir: fi.IsDir()}
	if b := filepath.Base(strings.TrimSuffix(src, "/.")); follow && b != filepath.Base(strings.TrimSuffix(p, "/.")) && b != "/" {
		info.RebaseName = b // -L of a link: the copy takes the link's name
	}
	return info, nil
}

// Tar is the tar stream of a source (Docker's rules: "dir/." is its
// contents, else the entry itself under its base name).
func Tar(src archive.CopyInfo) (io.ReadCloser, error) {
	if fi, err := os.Lstat(src.Path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		// containers/storage's walk stats its starting point, which
		// follows a link: the link itself is one entry, written here.
		return linkTar(src.Path, fi)
	}
	return archive.TarResource(src)
}

// TarIn is Tar of a source in the container under root, read by a
// process chrooted into root: a running container may swap a directory
// for a link while the walk goes on, and a link then resolves in its
// root, never on the host (CVE-2018-15664).
func TarIn(root string, src archive.CopyInfo) (io.ReadCloser, error) {
	if fi, err := os.Lstat(src.Path); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		return linkTar(src.Path, fi)
	}
	dir, base := archive.SplitPathDirEntry(src.Path)
	return chrootarchive.Tar(dir, &archive.TarOptions{
		Compression:      archive.Uncompressed,
		IncludeFiles:     []string{base},
		IncludeSourceDir: true,
		RebaseNames:      map[string]string{base: src.RebaseName},
	}, root)
}

func linkTar(p string, fi os.FileInfo) (io.ReadCloser, error) {
	target, err := os.Readlink(p)
	if err != nil {
		return nil, err
	}
	h, err := tar.FileInfoHeader(fi, target)
	if err != nil {
		return nil, err
	}
	h.Name, h.Uname, h.Gname = filepath.Base(p), "", ""
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		h.Uid, h.Gid = int(st.Uid), int(st.Gid)
	}
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	if err := tw.WriteHeader(h); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return io.NopCloser(&b), nil
}

// DestIn is dst of the container as a copy's destination: its last
// element followed too (a link to a directory is that directory), all of
// it inside root. Its parent must exist.
func DestIn(root, dst string) (archive.CopyInfo, error) {
	p, err := inside(root, dst, true)
	if err != nil {
		return archive.CopyInfo{}, err
	}
	fi, err := os.Lstat(p)
	if err == nil {
		return archive.CopyInfo{Path: p, Exists: true, IsDir: fi.IsDir()}, nil
	}
	parent := filepath.Dir(strings.TrimSuffix(p, "/"))
	if pfi, perr := os.Stat(parent); perr != nil || !pfi.IsDir() {
		return archive.CopyInfo{}, fmt.Errorf("%s: the directory %s does not exist in the container: create it first", dst, filepath.Dir(filepath.Clean("/"+dst)))
	}
	return archive.CopyInfo{Path: p}, nil
}

// ExtractIn unpacks content (a tar of src) at dst in the container,
// chrooted into root. keepOwners is -a: the tar's owners stay, else
// every entry belongs to the container's root.
func ExtractIn(root string, content io.Reader, src, dst archive.CopyInfo, keepOwners bool) error {
	dir, rebased, err := archive.PrepareArchiveCopy(content, src, dst)
	if err != nil {
		return copyError(err)
	}
	defer rebased.Close()
	return Untar(root, dir, rebased, keepOwners)
}

// Untar unpacks a tar into dir of the container (a directory under root).
func Untar(root, dir string, content io.Reader, keepOwners bool) error {
	opts := &archive.TarOptions{NoOverwriteDirNonDir: true}
	if !keepOwners {
		opts.ChownOpts = &idtools.IDPair{UID: 0, GID: 0}
	}
	return chrootarchive.UntarWithRoot(content, dir, opts, root)
}

// copyError says in one line what Docker's path rules refused.
func copyError(err error) error {
	switch {
	case errors.Is(err, archive.ErrCannotCopyDir):
		return errors.New("cannot copy a directory over a file: give a directory or a new name as the destination")
	case errors.Is(err, archive.ErrDirNotExists):
		return errors.New("the destination directory does not exist: create it first, or drop the trailing '/'")
	case errors.Is(err, archive.ErrNotDirectory):
		return errors.New("the destination's parent is not a directory")
	}
	return err
}

// CopyToHost unpacks content (a tar of src) at the host path dst, by
// Docker's rules; the files belong to the caller.
func CopyToHost(content io.Reader, src archive.CopyInfo, dst string) error {
	return copyError(archive.CopyTo(content, src, dst))
}

// HostSource is the host path src as a copy's source.
func HostSource(src string, follow bool) (archive.CopyInfo, error) {
	clean := archive.PreserveTrailingDotOrSeparator(filepath.Clean(src), src)
	info, err := archive.CopyInfoSourcePath(clean, follow)
	if err != nil {
		return info, fmt.Errorf("%s: %w", src, err)
	}
	return info, nil
}
