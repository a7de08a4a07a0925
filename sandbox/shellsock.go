package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"husk/sandbox/executor"
)

// Host daemons' unix sockets in `husk shell` (issue 20). A read-only view
// of the host stops writes, not connect(): a socket on it answers anyone
// with its write bit (docker.sock, the system bus, containerd, ...). The
// network namespace hides abstract sockets only; a pathname socket is
// found by its inode, whatever the namespace.
//
// The mechanism, and why. Landlock is the right tool, but up to ABI 8 it
// has no right over connect() to a pathname socket: MAKE_SOCK governs
// bind() only (ABI 9 adds RESOLVE_UNIX; this code does not use it yet).
// A seccomp filter cannot read connect()'s address, and a user-notify
// supervisor that connects on the workload's behalf would sit in every
// connect() of the shell. Bind mounts show the same inodes, and the
// kernel's overlayfs refuses lowerdir=/ in a user namespace, so what is
// left is to make each socket's path lead to something else in the
// shell's mount namespace:
//   - /run and /var/run, where daemons keep their sockets, are a private
//     tmpfs: that holds for sockets made there later too;
//   - every other pathname socket bound in the host's network namespace
//     when the shell starts (the kernel lists them all in /proc/net/unix,
//     wherever they are in the tree) gets /dev/null on it, unless it is
//     under $HOME or the working directory, which the shell may write.
//
// What stays reachable: sockets under $HOME and the working directory (the
// shell's own, by design), a socket bound outside /run after the shell
// started (or bound again: the mask covers the old inode's path only),
// sockets bound in another network namespace (a container's), and a
// socket's hard links elsewhere. `--socket PATH` hands one back.

// HostSockets are the absolute paths of the pathname unix sockets bound in
// the caller's network namespace, each resolved on the host, deduplicated.
func HostSockets() ([]string, error) {
	data, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		return nil, fmt.Errorf("reading the host's unix sockets: %w", err)
	}
	var out []string
	for _, p := range UnixTablePaths(string(data)) {
		if r, err := SocketPath(p); err == nil && !slices.Contains(out, r) {
			out = append(out, r)
		}
	}
	return out, nil
}

// UnixTablePaths are the absolute paths in /proc/net/unix's Path column:
// abstract ("@...") and relative names are left out.
func UnixTablePaths(table string) []string {
	var out []string
	for i, line := range strings.Split(table, "\n") {
		if i == 0 {
			continue // the header
		}
		// Num: RefCount Protocol Flags Type St Inode Path; the inode is
		// padded, so skip seven fields rather than split on spaces.
		rest := line
		for f := 0; f < 7 && rest != ""; f++ {
			rest = strings.TrimLeft(rest, " ")
			if i := strings.IndexByte(rest, ' '); i >= 0 {
				rest = rest[i+1:]
			} else {
				rest = ""
			}
		}
		if strings.HasPrefix(rest, "/") && !slices.Contains(out, rest) {
			out = append(out, rest)
		}
	}
	return out
}

// SocketPath is path made absolute with its symlinks resolved, which must
// be a unix socket: what `--socket` takes.
func SocketPath(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	r, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return "", err
	}
	var st unix.Stat_t
	if err := unix.Lstat(r, &st); err != nil {
		return "", err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return "", fmt.Errorf("%s is not a unix socket", r)
	}
	return r, nil
}

// privateRun is a tmpfs on /run, and on /var/run unless it is a symlink
// (to /run, as on most hosts), with /etc/resolv.conf kept when it leads
// there (systemd-resolved's stub file): --network host resolves names.
func privateRun() []Op {
	var ops []Op
	for _, d := range []string{"/run", "/var/run"} {
		if fi, err := os.Lstat(d); err == nil && fi.IsDir() {
			ops = append(ops, Op{Kind: KindMount, FSType: "tmpfs", Source: "tmpfs", Target: d, Flags: nsd | unix.MS_NOEXEC, Data: "mode=0755"})
			ops = append(ops, runLinks(d)...)
		}
	}
	if r, err := filepath.EvalSymlinks("/etc/resolv.conf"); err == nil && (within(r, "/run") || within(r, "/var/run")) {
		ops = append(ops, Op{Kind: KindBind, Source: r, Target: r, Flags: unix.MS_RDONLY, Optional: true})
	}
	return ops
}

// runLinks are dir's symlinks again in its private copy: NixOS keeps the
// system's programs under /run/current-system, a link into /nix/store. A
// link to a socket leads to the socket's path, hidden there or handed back.
func runLinks(dir string) []Op {
	entries, _ := os.ReadDir(dir)
	var ops []Op
	for _, e := range entries {
		p := filepath.Join(dir, e.Name())
		if t, err := os.Readlink(p); err == nil && e.Type()&os.ModeSymlink != 0 {
			ops = append(ops, Op{Kind: KindSymlink, Source: t, Target: p})
		}
	}
	return ops
}

// socketOps hide the host's sockets that the shell's mounts (ops) leave in
// view, and hand back the ones named by --socket: those in view are left
// alone, those under a private mount (/run, /tmp) are bound there.
func socketOps(ops []Op, host, given []string) []Op {
	covered := func(p string) bool {
		for _, d := range []string{"/dev", "/proc", "/sys"} {
			if within(p, d) {
				return true
			}
		}
		return slices.ContainsFunc(ops, func(o Op) bool { return within(p, o.Target) })
	}
	var out []Op
	for _, s := range host {
		if !covered(s) && !slices.Contains(given, s) {
			out = append(out, Op{Kind: KindMask, Target: s, Optional: true})
		}
	}
	for _, s := range given {
		if covered(s) {
			out = append(out, Op{Kind: KindBind, Source: s, Target: s})
		}
	}
	return out
}

// ShellSockets says, for husk info, how the shell keeps host sockets out
// and what it leaves reachable; err when it cannot (then they are).
func ShellSockets() (string, error) {
	if _, err := HostSockets(); err != nil {
		return "", fmt.Errorf("%w: husk shell hides only what is under /run, and the host's other unix sockets are reachable from it", err)
	}
	why := fmt.Sprintf("Landlock ABI %d cannot refuse connect()", executor.LandlockABI())
	if executor.LandlockABI() == 0 {
		why = "no Landlock"
	}
	return "mounts (" + why + "): /run and /var/run private, /dev/null over each other host socket bound when the shell starts; " +
		"sockets bound later outside /run stay reachable", nil
}

// GivenSockets are --socket's paths through SocketPath; the error names
// the first that is no socket.
func GivenSockets(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		r, err := SocketPath(p)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return nil, fmt.Errorf("--socket %s: no such file: name the path of a unix socket that exists", p)
		case err != nil:
			return nil, fmt.Errorf("--socket %s: %w: name the path of a unix socket (ls -l shows it with type s)", p, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// What `husk shell` keeps from the host and what it leaves in reach, for
// husk info (the README's table says the same).
var (
	ShellIsolates = []string{
		"writes: / is read-only (copy-on-write with --overlay) but for $HOME and the working directory",
		"processes, IPC, hostname: namespaces of its own; no capabilities, no_new_privs, Docker's seccomp profile",
		"the network (none unless --network host), and with it abstract unix sockets",
		"/tmp, /run, /var/run and the session's runtime directory: private and empty (/run keeps the host's symlinks there)",
		"the host's unix sockets outside $HOME and the working directory, but for --socket",
	}
	ShellReaches = []string{
		"everything the user may read on the host",
		"unix sockets under $HOME and the working directory",
		"unix sockets bound outside /run after the shell started, or in another network namespace",
		"with --network host, the host's network and its abstract unix sockets",
	}
)
