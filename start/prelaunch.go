package start

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"husk/fuse"
	"husk/network"
	"husk/sandbox"
	"husk/sandbox/executor"
	"husk/store"
	"husk/store/container"
	"husk/store/usernet"
	"husk/userns"
)

// The prelaunch: a foreground `husk run --rm` with a fast start (a C init
// and its spec built here) writes down the launch it makes, keyed by the
// invocation up to the image (uid, gid, directory, the arguments up to
// and including the image, environment). The next such invocation, with
// any command after the image, starts that launch in C before the Go
// runtime does (sandbox/executor/prelaunch.c), with its own container ID
// and command, and the Go side only keeps the books once it runs (Adopt):
// the record, signals, the exit. The launch names every file whose change
// could change it, with its identity; one changed file, and the run takes
// the usual path and writes a new one.

// exitHusk is husk's own failure, as Docker's 125.
const exitHusk = 125

// Prelaunchable is what a run that qualifies for the prelaunch (the CLI
// decides from its flags) needs to write its launch down.
type Prelaunchable struct {
	// KeyArg is the index in os.Args of the image argument, the last of
	// the launch's key.
	KeyArg int
	// Files the flags name (env files, a seccomp profile), and Dirs (the
	// volumes' sources): a change voids the launch.
	Files, Dirs []string
}

// write records the launch o of container id for the next run with the
// same arguments up to the image. It is best effort: without it, the next
// run is only slower.
func (p *Prelaunchable) write(mapping *userns.Mapping, o sandbox.Options, id string, nets []network.Attachment, hl *HostLaunch) {
	if p == nil {
		return
	}
	key := executor.LaunchKey(p.KeyArg)
	root, _, _, err := store.Paths()
	if key == nil || err != nil {
		return
	}
	flags := unix.CLONE_NEWUSER | unix.CLONE_NEWNS | unix.CLONE_NEWPID | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC
	if o.NewNet {
		flags |= unix.CLONE_NEWNET
	}
	l := &executor.Launch{Key: key, Watch: p.watched(mapping, hl), Flags: flags, Mapping: mapping, ID: id,
		Stdin: o.Stdin != nil, Net: o.NetConn != nil, Spec: hl.Bare, Entry: hl.Entry, Default: hl.Default,
		JSON: hl.JSON, ImageID: hl.ImageID}
	if len(nets) > 0 {
		if len(nets) > 1 || !reserve(l, id, nets[0]) {
			return
		}
	}
	_ = l.Write(root)
}

// reserved is the lease file a run that wrote a launch on a user-defined
// network holds locked for its own sandbox's life.
var reserved *os.File

// reserve makes this run's address on network a the reservation of
// launch l, which the runs that follow it claim one at a time: a quick
// run then neither leases nor gives back an address (prelaunch.c).
func reserve(l *executor.Launch, id string, a network.Attachment) bool {
	ns, err := usernet.Open()
	if err != nil {
		return false
	}
	n, err := ns.Get(a.Network)
	if err != nil {
		return false
	}
	path, owner, held, err := ns.Reserve(n, a.IP, id, executor.LaunchName(l.Key))
	if err != nil {
		return false
	}
	reserved = held
	l.Claim, l.Reservation = path, owner
	return true
}

// watched lists each file this run's launch depends on beyond the key,
// with its identity: husk itself, the store's image and layer lists, the
// user databases and ID ranges, the helpers, the files the flags name,
// the squashfs file a run from one serves (its size and time are its
// image's ID) and its node copy's sign (absent, "-", until the copy is
// complete: a launch of the file through FUSE is void once it is).
// A directory need only be the same one (its identity without size and
// time, a prefix ending in ':'): a volume's contents are the user's.
func (p *Prelaunchable) watched(mapping *userns.Mapping, hl *HostLaunch) []byte {
	files := append(mappingFiles(mapping), "/etc/hosts", "/etc/resolv.conf")
	if _, graphroot, _, err := store.Paths(); err == nil {
		for _, pat := range []string{"*-images/images.json", "*-layers/layers.json"} {
			m, _ := filepath.Glob(filepath.Join(graphroot, pat))
			files = append(files, m...)
		}
	}
	if hl.Strategy == fuse.FuseOverlayfs || hl.file != "" {
		if prog, err := fuse.FuseOverlayfsPath(); err == nil {
			files = append(files, prog)
		}
	}
	files = append(append(files, hl.file, hl.fileMeta), p.Files...)
	b := bytes.NewBuffer(identities(files))
	// The scratch directory, whose removal (a /tmp cleaner) the usual path
	// mends, and the volumes' sources.
	var dirs []string
	if _, scratch, err := ScratchDir(); err == nil {
		dirs = append(dirs, scratch)
	}
	for _, d := range append(dirs, p.Dirs...) {
		if id := strings.SplitAfterN(executor.FileIdentity(d), ":", 3); len(id) == 3 {
			b.WriteString(d + "\x00" + id[0] + id[1] + "\x00")
		}
	}
	return b.Bytes()
}

// Adopt is a run of a sandbox the prelaunch started and mapped, with
// config cfg and command cmd: the books a launch keeps, around a process
// that may have ended already. It returns the container's exit code; an
// error is husk's own.
func Adopt(ctx context.Context, driver string, cfg *sandbox.Config, name string, cmd []string, pre *executor.Prelaunch) (int, error) {
	l := executor.ParseLaunch(pre.File)
	if pre.Claim != nil {
		// The address the prelaunch claimed, held until this run ends.
		defer pre.Claim.Close()
		ip, err := netip.ParseAddr(filepath.Base(l.Claim))
		if err != nil || len(cfg.Network.Networks) != 1 {
			pre.Abandon()
			return exitHusk, fmt.Errorf("the prelaunch's claimed address %s: not the run's network", l.Claim)
		}
		cfg.Network.Networks[0].IP, cfg.Network.Networks[0].Claimed = ip, true
	}
	js, args, err := adoptedSpec(l, pre.ID, cmd)
	var fg *Foreground
	if err == nil {
		fg, err = NewForeground(driver, cfg, name, nil, pre.ID)
	}
	if err == nil {
		err = NewRecord(fg.cs, fg.c).RememberJSON(l.ImageID, args, js)
	}
	if err == nil && pre.Net != nil {
		// The builtin network's stack, on the TAP device the init sent
		// (or sends) on this socket.
		var nh *network.Host
		nh, err = adoptNet(cfg, pre)
		if err == nil {
			err = nh.Start(pre.Pid)
		}
		defer nh.Close()
	}
	if err != nil {
		// The books cannot be kept: the sandbox must not run unseen.
		pre.Abandon()
		if fg != nil {
			fg.Finish(ctx, exitHusk)
		}
		return exitHusk, err
	}
	_, _ = fg.cs.Update(fg.c.ID, container.MarkRunning(os.Getpid(), pre.Pid, nil))
	code, _, err := sandbox.Adopt(pre.Pid, pre.Status, sandbox.Options{Running: func() { fg.ran = true }})
	fg.Finish(ctx, code)
	if err != nil {
		return exitHusk, err
	}
	return code, nil
}

// adoptedSpec is the launch's spec in JSON for container id, with its
// arguments: the entrypoint and cmd, or the default when cmd is empty.
func adoptedSpec(l *executor.Launch, id string, cmd []string) ([]byte, []string, error) {
	if len(l.ID) < 12 {
		return nil, nil, fmt.Errorf("reading the prelaunch's spec: no container ID")
	}
	js := bytes.ReplaceAll(l.JSON, []byte(l.ID), []byte(id))
	js = bytes.ReplaceAll(js, []byte(l.ID[:12]), []byte(id[:12]))
	var s sandbox.Spec
	if err := json.Unmarshal(js, &s); err != nil {
		return nil, nil, fmt.Errorf("reading the prelaunch's spec: %w", err)
	}
	s.Args = l.Default
	if len(cmd) > 0 {
		s.Args = append(slices.Clone(l.Entry), cmd...)
	}
	js, err := json.Marshal(&s)
	return js, s.Args, err
}

// adoptNet is the host side of a prelaunched sandbox's network, whose
// socket the prelaunch made (pre.Net, this side's end).
func adoptNet(cfg *sandbox.Config, pre *executor.Prelaunch) (*network.Host, error) {
	h, err := cfg.NetHost()
	if err != nil || h == nil {
		pre.Net.Close()
		return nil, fmt.Errorf("the network of a prelaunched sandbox: %v", err)
	}
	return h, h.Adopt(pre.Net, pre.Tap)
}
