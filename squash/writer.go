package squash

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/squashfs"

	"husk/pdeath"
)

// Two writers of the same tree. mksquashfs (squashfs-tools), where it is
// installed, keeps everything: owners, hard links, extended attributes.
// Without it husk writes the file itself (go-diskfs), which records every
// owner as root, hard links as copies, and no extended attributes nor
// setuid, setgid or sticky bits; husk says so in one line when the image
// had any of them.

// EnvMksquashfs names the mksquashfs to use; "none" makes husk write the
// file itself.
const EnvMksquashfs = "HUSK_MKSQUASHFS"

// mksquashfs is the mksquashfs to run, or "".
func mksquashfs() string {
	v := os.Getenv(EnvMksquashfs)
	if v == "none" {
		return ""
	}
	if v != "" {
		return v
	}
	p, err := exec.LookPath("mksquashfs")
	if err != nil {
		return ""
	}
	return p
}

// writeTree writes the tree root as the squashfs out; tmp is a directory
// of its own for the work. It returns the notice of what the file lost.
func writeTree(root, tmp, out string) (string, error) {
	if prog := mksquashfs(); prog != "" {
		defer pdeath.Hold()() // its parent-death signal follows this thread
		cmd := exec.Command(prog, root, out, "-noappend", "-quiet", "-no-progress", "-comp", "gzip")
		// It ends with husk: a killed publish must not write on.
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		b, err := cmd.CombinedOutput()
		if err != nil {
			return "", fmt.Errorf("%s: %w: %s", prog, err, strings.TrimSpace(string(b)))
		}
		return "", nil
	}
	return writeGo(root, tmp, out)
}

// writeGo writes the tree with go-diskfs, whose writer takes its tree
// from a directory of its own under TMPDIR: root is moved there.
func writeGo(root, tmp, out string) (string, error) {
	os.Setenv("TMPDIR", tmp)
	f, err := os.OpenFile(out, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sq, err := squashfs.Create(file.New(f, false), 0, 0, 0)
	if err != nil {
		return "", err
	}
	ws := sq.Workspace()
	if err := os.Remove(ws); err != nil {
		return "", err
	}
	if err := os.Rename(root, ws); err != nil {
		return "", err
	}
	lost, err := finalize(sq, tmp)
	if err != nil {
		return "", err
	}
	notice := ""
	if lost != "" {
		notice = fmt.Sprintf("husk: notice: mksquashfs is not installed, and husk's own squashfs writer keeps no %s "+
			"(all owned by root, hard links as copies): install squashfs-tools for an exact file", lost)
	}
	return notice, f.Sync()
}

// finalize writes the squashfs, from the mirror of its symlinks (see
// standIn) beside its tree; it says what the image had that the file
// lost.
func finalize(sq *squashfs.FileSystem, tmp string) (string, error) {
	mirror := filepath.Join(tmp, "links")
	lost, err := standIn(sq.Workspace(), mirror, filepath.Join(tmp, "empty"))
	if err != nil {
		return "", fmt.Errorf("preparing the tree: %w", err)
	}
	if err := os.MkdirAll(mirror, 0o755); err != nil {
		return "", err
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	if err := os.Chdir(mirror); err != nil {
		return "", err
	}
	defer os.Chdir(wd)
	return lost, sq.Finalize(squashfs.FinalizeOptions{Compression: &squashfs.CompressorGzip{CompressionLevel: 6, WindowSize: 15}})
}
