package squash

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
	"golang.org/x/sys/unix"

	huskfuse "husk/fuse"
	"husk/reexec"
	"husk/sandbox"
)

// How a sandbox's root comes from a squashfs file. The root op is a
// fuse-overlayfs op whose data starts with dataPrefix: for it, the C init
// starts husk's FUSE server itself (CallServe, `husk squashfs-serve JSON
// TARGET`, sandbox/executor/mounts.c), which says on fd 3 "ok" once the
// root is mounted, or why not, in one line. The server is a process of the
// sandbox's pid namespace, in the init's first mount namespace: it ends
// when the sandbox's init does, and the mounts with their namespace, so a
// run leaves neither behind.

// dataPrefix marks the op's data as husk's squashfs root (mounts.c's
// squashfs_prefix).
const dataPrefix = "husk-squashfs="

// CallServe is the FUSE server of one sandbox's squashfs root.
const CallServe = "squashfs-serve"

func init() { reexec.Register(CallServe, serveMain) }

// mountSpec is what the init hands the server.
type mountSpec struct {
	File     string `json:"file"`
	Scratch  string `json:"scratch"` // the init's scratch tmpfs: lower, upper and work go there
	ReadOnly bool   `json:"readOnly,omitempty"`
}

// RootOps is the root of a sandbox running file: husk (the binary at
// self) mounts it on the init's root, with an overlay whose upper layer
// is on scratch, or read-only.
func RootOps(self, file, scratch string, readOnly bool) ([]sandbox.Op, error) {
	b, err := json.Marshal(mountSpec{File: file, Scratch: scratch, ReadOnly: readOnly})
	if err != nil {
		return nil, err
	}
	return []sandbox.Op{{Kind: sandbox.KindFuseOverlay, Source: self, Target: "/", Data: dataPrefix + string(b)}}, nil
}

func serveMain(_ context.Context, _, _ io.Writer, args []string) int {
	// The sandbox's processes see this one (its pid namespace) and run
	// as its uid: not dumpable, its /proc entries (its root, the host's
	// filesystem) are closed to them, as the init's are.
	_ = unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0)
	status := os.NewFile(3, "status")
	if len(args) != 2 {
		fmt.Fprintf(status, "%s takes a spec and a target: this is husk's own error\n", CallServe)
		return 125
	}
	var ms mountSpec
	if err := json.Unmarshal([]byte(args[0]), &ms); err != nil {
		fmt.Fprintf(status, "%s: reading its spec: %v: this is husk's own error\n", CallServe, err)
		return 125
	}
	srv, err := mountRoot(&ms, args[1])
	if err != nil {
		fmt.Fprintln(status, err)
		return 125
	}
	fmt.Fprintln(status, "ok")
	status.Close()
	srv.Wait()
	return 0
}

// mountRoot serves the squashfs and mounts the root on target: an
// overlay over it with the upper layer on the scratch tmpfs, also with
// --read-only (the init makes its mount points there, then the whole root
// read-only); where no overlay can be had, --read-only runs on the
// squashfs alone.
func mountRoot(ms *mountSpec, target string) (*fuse.Server, error) {
	sq, _, _, err := open(ms.File)
	if err != nil {
		return nil, err
	}
	lower := filepath.Join(ms.Scratch, "lower")
	if err := os.Mkdir(lower, 0o755); err != nil {
		return nil, fmt.Errorf("mounting %s: making its lower directory: %w", ms.File, err)
	}
	t := &tree{sq: sq, squashIDs: singleMapping()}
	long := 24 * time.Hour // nothing changes under a read-only squashfs
	srv, err := fs.Mount(lower, t, &fs.Options{
		EntryTimeout: &long, AttrTimeout: &long, NegativeTimeout: &long,
		MountOptions: fuse.MountOptions{AllowOther: true, DirectMount: true, DirectMountStrict: true,
			FsName: ms.File, Name: "squashfs", Options: []string{"ro", "default_permissions"}},
	})
	if err != nil {
		return nil, fmt.Errorf("mounting %s through FUSE on %s: %w: check that /dev/fuse exists and can be opened", ms.File, lower, err)
	}
	if t.err != nil {
		_ = srv.Unmount()
		return nil, fmt.Errorf("reading the squashfs %s: %w: make it again", ms.File, t.err)
	}
	err = overlay(lower, ms.Scratch, target)
	if err != nil && ms.ReadOnly {
		err = unix.Mount(lower, target, "", unix.MS_BIND, "")
	}
	if err != nil {
		_ = srv.Unmount()
		return nil, fmt.Errorf("mounting the writable layer over %s: %w: run it with --read-only", ms.File, err)
	}
	return srv, nil
}

// overlay mounts lower with an upper layer on the scratch tmpfs: the
// kernel's overlay in the user namespace, else fuse-overlayfs.
func overlay(lower, scratch, target string) error {
	data := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", lower,
		filepath.Join(scratch, "upper"), filepath.Join(scratch, "work"))
	err := unix.Mount("overlay", target, "overlay", 0, data+",userxattr")
	if err == nil {
		return nil
	}
	prog, perr := huskfuse.FuseOverlayfsPath()
	if perr != nil {
		return fmt.Errorf("overlay: %w (and fuse-overlayfs: %v)", err, perr)
	}
	out, ferr := exec.Command(prog, "-o", data, target).CombinedOutput()
	if ferr != nil {
		return fmt.Errorf("overlay: %w; fuse-overlayfs: %v: %s", err, ferr, strings.TrimSpace(string(out)))
	}
	return nil
}

// singleMapping says whether this user namespace maps one id alone.
func singleMapping() bool {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		return false
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	f := strings.Fields(lines[0])
	return len(lines) == 1 && len(f) == 3 && f[2] == "1"
}
