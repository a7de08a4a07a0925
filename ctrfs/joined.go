package ctrfs

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"

	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/idtools"
	"golang.org/x/sys/unix"

	"husk/pdeath"
	"husk/reexec"
	"husk/sandbox"
	"husk/sandbox/nsenter"
	"husk/store/container"
	"husk/userns"
)

// A copy into a running container lands in the root its processes see:
// its mount namespace's tree (the overlay or fuse-overlayfs mount its
// init made, or its vfs copy, with its volumes and binds). It is written
// from inside: exec's C entry (package nsenter) joins the container's
// namespaces from the host, as the owner of its user namespace, and runs
// husk's function cp-untar there, with the container's capabilities,
// seccomp filter and Landlock domain. Every path then resolves in the
// container's own root, so no link in it reaches a host path, and the
// files get the container's ids as its mapping gives them.
//
// Why not from outside: writing into the upper directory would change an
// overlay's layer under its mount, which the kernel leaves undefined (a
// cached lookup hides the new file), and would miss volumes and binds.
// The init's /proc/PID/root opens only to the host (the init is
// undumpable), and through it fuse-overlayfs's mount still refuses every
// process outside the container's user namespace (its daemon runs as the
// container's root with allow_other, which the kernel scopes so), while
// Go cannot join a user namespace.
//
// The husk that runs inside is a sealed in-memory copy of this binary,
// as runc's: a process of the container that opens its /proc/PID/exe
// reaches that copy, never the host's binary (CVE-2019-5736).

const untarFunc = "cp-untar"

func init() { reexec.Register(untarFunc, untarHere) }

// fdBinary is the descriptor the copy of husk has in the joining process
// (after exec's spec, console and binds sockets).
const fdBinary = 6

// Joined is a copy into a running container from inside it.
type Joined struct {
	Pid  int           // its init's host pid
	Spec *sandbox.Spec // its process's spec, as exec uses it
}

// Running checks that c can be copied into as a running container: its
// init up, not paused (its processes, fuse-overlayfs's daemon among
// them, may be frozen).
func Running(c *container.Container) error {
	switch {
	case !c.Live():
		return container.ErrNotRunning
	case c.Paused:
		return container.ErrPaused
	case !c.InitAlive():
		return fmt.Errorf("container %s is restarting: copy once it runs again, or stop it first", c.Name)
	}
	return nil
}

// CopyIn unpacks content, a tar of src (Path "" for a tar from stdin, to
// go into the directory dst), at dst in the container. keepOwners is -a.
func (j Joined) CopyIn(content io.Reader, src archive.CopyInfo, dst string, keepOwners bool) error {
	defer pdeath.Hold()() // the child's parent-death signal follows this thread
	bin, err := sandbox.SealedSelf()
	if err != nil {
		return err
	}
	defer bin.Close()
	kind := "file"
	switch {
	case src.Path == "":
		kind = "stdin"
	case src.IsDir:
		kind = "dir"
	}
	owners := "-"
	if keepOwners {
		owners = "a"
	}
	cmd, errb, err := j.command(bin, untarFunc, "cp-into", dst, kind, srcArg(src), src.RebaseName, owners)
	if err != nil {
		return err
	}
	cmd.Stdin, cmd.Stdout = content, io.Discard
	return joinedError(cmd.Run(), errb)
}

// command is husk's function fn run inside the container by the sealed
// copy bin, as root with the container's confinement; what names it in ps.
func (j Joined) command(bin *os.File, fn, what string, args ...string) (*exec.Cmd, *bytes.Buffer, error) {
	s := *j.Spec
	s.Args = append([]string{fmt.Sprintf("/proc/self/fd/%d", fdBinary), fn}, args...)
	s.Env, s.User, s.Cwd, s.Terminal = []string{"HUSK_CALL=" + fn, "PATH=/usr/bin:/bin"}, "0:0", "/", false
	spec, err := s.EncodeExec(false)
	if err != nil {
		return nil, nil, err
	}
	cmd, err := nsenter.Command(j.Pid, spec)
	if err != nil {
		return nil, nil, err
	}
	cmd.Args = []string{"husk", what, s.ID}
	cmd.ExtraFiles = append(cmd.ExtraFiles, nil, nil, bin) // abi.FdConsole, abi.FdExecBinds, the binary
	errb := &bytes.Buffer{}
	cmd.Stderr = errb
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd, errb, nil
}

// joinedError is a joined copy's failure: its own last line, if any.
func joinedError(err error, errb *bytes.Buffer) error {
	if err == nil {
		return nil
	}
	if msg := lastLine(errb.String()); msg != "" {
		return errors.New(strings.TrimPrefix(msg, "husk: "))
	}
	return fmt.Errorf("copying inside the container: %w", err)
}

// srcArg is what the copy needs of the source's path: its last element
// (or "/."), not the host path, which the container's processes would
// read in the function's argv.
func srcArg(src archive.CopyInfo) string {
	if src.Path == "" {
		return ""
	}
	_, base := archive.SplitPathDirEntry(src.Path)
	return "/src/" + base
}

func lastLine(s string) string {
	l := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(l[len(l)-1])
}

// untarHere is cp-untar, inside the container: DST KIND SRC REBASE
// OWNERS, the tar on stdin. Its root is the container's.
func untarHere(_ context.Context, _, errw io.Writer, args []string) int {
	if len(args) != 5 {
		fmt.Fprintf(errw, "husk: %s: want DST KIND SRC REBASE OWNERS, got %q: this is husk's own error\n", untarFunc, args)
		return 125
	}
	from := archive.CopyInfo{Path: args[2], Exists: true, IsDir: args[1] == "dir", RebaseName: args[3]}
	if args[1] == "stdin" {
		from.Path = ""
	}
	err := untarArgs(args[0], from, args[4] == "a")
	if errors.Is(err, unix.EROFS) {
		err = fmt.Errorf("%w: the container's root is read-only (--read-only): copy under one of its volumes or tmpfs mounts", err)
	}
	if err != nil {
		fmt.Fprintf(errw, "husk: %v\n", err)
		return 125
	}
	return 0
}

func untarArgs(dst string, from archive.CopyInfo, keepOwners bool) error {
	to, err := DestIn("/", dst)
	if err != nil {
		return err
	}
	opts := &archive.TarOptions{NoOverwriteDirNonDir: true, InUserNS: true}
	if !keepOwners {
		opts.ChownOpts = &idtools.IDPair{UID: 0, GID: 0}
	}
	if from.Path == "" {
		if !to.IsDir {
			return fmt.Errorf("%s: a tar from stdin goes into a directory: give an existing directory", dst)
		}
		return archive.Untar(os.Stdin, to.Path, opts)
	}
	dir, content, err := archive.PrepareArchiveCopy(os.Stdin, from, to)
	if err != nil {
		return copyError(err)
	}
	defer content.Close()
	return archive.Untar(content, dir, opts)
}

// ToContainerIDs rewrites a tar of host files for -a: each owner as the
// container sees it under mapping, an unmapped one as 65534 (nobody), as
// husk's namespace shows it.
func ToContainerIDs(r io.Reader, m *userns.Mapping) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		tr, tw := tar.NewReader(r), tar.NewWriter(pw)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				pw.CloseWithError(tw.Close())
				return
			}
			if err == nil {
				h.Uid, h.Gid, h.Uname, h.Gname = toContainer(m.UIDMap, h.Uid), toContainer(m.GIDMap, h.Gid), "", ""
				err = tw.WriteHeader(h)
			}
			if err == nil {
				_, err = io.Copy(tw, tr)
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
		}
	}()
	return pr
}

func toContainer(m []userns.IDMap, id int) int {
	for _, e := range m {
		if id >= e.HostID && id < e.HostID+e.Size {
			return e.ContainerID + id - e.HostID
		}
	}
	return 65534
}
