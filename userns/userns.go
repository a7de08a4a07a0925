// Package userns puts husk into its user and mount namespace: the user's uid
// as 0 plus the /etc/subuid ranges through newuidmap/newgidmap, or the
// single mapping `0 uid 1` where there are none. The mapping is stable
// across runs, because layers in the store were written under it.
//
// The parent (on the host) and the child (husk re-executed inside) are kept
// apart: parent.go starts and maps the child, child.go is its side of the
// handshake, signals.go relays what the parent receives.
package userns

import (
	"context"
	"os"
	"strings"

	"husk/pdeath"
	"husk/sandbox/abi"
)

// envMarker is set in the environment of the re-executed child; its value
// is the mode ("subuid" or "single"). Processes started inside (husk
// unshare's shell, nested husk commands) inherit it and do not re-enter.
const envMarker = abi.EnvUserns

// envReexec marks the child as the same command husk re-executed, not one
// a user typed inside (husk unshare clears it for its shell): a question
// asked on the host is not asked again there.
const envReexec = "HUSK_USERNS_REEXEC"

// Reexecuted reports whether this process is the namespace child that
// husk started to carry on the command the user gave on the host.
func Reexecuted() bool { return os.Getenv(envReexec) != "" }

// UserEnv is env without what marks a re-executed child, for the programs
// a user runs inside (husk unshare's shell).
func UserEnv(env []string) []string {
	out := env[:0:0]
	for _, e := range env {
		if !strings.HasPrefix(e, envReexec+"=") {
			out = append(out, e)
		}
	}
	return out
}

// Modes of mapping.
const (
	ModeSubuid = "subuid"
	ModeSingle = "single"
	// ModeKeepID maps only the user's own ids to themselves (husk shell,
	// --userns=keep-id); the kernel writes it, as for single.
	ModeKeepID = "keep-id"
)

// IDMap is one line of /proc/PID/uid_map or gid_map.
type IDMap struct {
	ContainerID, HostID, Size int
}

// Mapping is the ID mapping husk will use for this user.
type Mapping struct {
	Mode   string // ModeSubuid or ModeSingle
	User   string
	UID    int
	GID    int
	UIDMap []IDMap
	GIDMap []IDMap

	SubUIDs, SubGIDs     []Range // the user's ranges, in file order
	Source               string  // "/etc/subuid", "getsubids" or "" (none)
	NewUIDMap, NewGIDMap string  // helper paths (subuid mode)
	// Problems say why the mapping is the single one although the user
	// may want ranges; each is one line with its fix (see FixOf).
	Problems []error
}

// Inside reports whether this process runs inside husk's user namespace.
func Inside() bool { return os.Getenv(envMarker) != "" }

// Mode is the mapping mode of the namespace this process is in ("" outside).
func Mode() string { return os.Getenv(envMarker) }

// Mapped, when set, hears of each mapping Enter used on the host, once its
// child runs mapped: the CLI writes it down for the pre-runtime entry.
var Mapped func(*Mapping)

// Enter makes sure the calling command runs inside husk's user and mount
// namespace. On the host it re-executes husk with the same arguments in a
// new namespace, waits, and exits with the child's code (128+N after
// signal N): it does not return there unless the namespace could not be
// made. Inside, or as real root, it returns nil at once.
func Enter(ctx context.Context) error {
	defer pdeath.Hold()() // the child's parent-death signal follows this thread
	if Inside() || os.Geteuid() == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	mapping, err := Detect()
	if err != nil {
		return err
	}
	// Catch signals before the child exists, so none is lost in between.
	relay := newRelay()
	cmd, err := start(mapping, os.Args[1:], stdio{os.Stdin, os.Stdout, os.Stderr})
	if err != nil {
		relay.stop()
		return err
	}
	go relay.run(cmd.Process)
	if Mapped != nil {
		Mapped(mapping)
	}
	os.Exit(exitCode(cmd.Wait()))
	return nil
}

// KeepID maps only the user's own ids, to themselves (Apptainer's way):
// files of the store's root appear as the user's.
func KeepID() *Mapping {
	uid, gid := os.Getuid(), os.Getgid()
	return &Mapping{Mode: ModeKeepID, UID: uid, GID: gid,
		UIDMap: []IDMap{{ContainerID: uid, HostID: uid, Size: 1}},
		GIDMap: []IDMap{{ContainerID: gid, HostID: gid, Size: 1}}}
}
