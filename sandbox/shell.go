package sandbox

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"

	"husk/profiles"
	"husk/sandbox/abi"
	"husk/seccomp"
)

// ShellOptions are `husk shell`'s choices.
type ShellOptions struct {
	Cmd []string
	// Overlay is the fuse-overlayfs binary for --overlay ("" without): the
	// kernel's overlay refuses lowerdir=/ in a user namespace, because the
	// host's root has submounts locked under it.
	Overlay string
	NoHome  bool
	HostNet bool
	RunRoot string
	// HostSockets are the host's bound unix sockets (HostSockets), hidden
	// in the shell; Sockets are those --socket hands back (SocketPath).
	HostSockets, Sockets []string
	// Terminal: the host side relays a pty.
	Terminal bool
}

// ShellSpec is an isolated shell over the host: its root read-only (or
// copy-on-write), the user's own ids, $HOME and the working directory
// writable, a private /tmp, Docker's masks and seccomp profile.
func ShellSpec(o ShellOptions) (*Spec, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("finding the working directory: %w", err)
	}
	scratch, err := ScratchDir(o.RunRoot)
	if err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	s := &Spec{
		Hostname:      host,
		Args:          shellCommand(o.Cmd),
		Env:           shellEnv(),
		Cwd:           cwd,
		KeepID:        true,
		Terminal:      o.Terminal,
		Scratch:       scratch,
		RootOps:       []Op{{Kind: KindBind, Source: "/", Target: "/", Flags: unix.MS_RDONLY}},
		Mounts:        shellMounts(cwd, o),
		HostSys:       o.HostNet,
		Loopback:      !o.HostNet,
		NoNewPrivs:    true,
		MaskedPaths:   profiles.MaskedPaths,
		ReadonlyPaths: profiles.ReadonlyPaths,
	}
	if o.Overlay != "" {
		s.RootOps = FuseOverlayRoot(o.Overlay, []string{"/"}, scratch)
		// Files show as the user's, so copy-up needs no chown to owners
		// the namespace lacks. Access is unchanged: the daemon reads the
		// host's files with the user's own rights.
		s.RootOps[0].Data += fmt.Sprintf(",squash_to_uid=%d,squash_to_gid=%d", os.Getuid(), os.Getgid())
	}
	prof, err := seccomp.Default(nil)
	if err != nil {
		return nil, err
	}
	if s.SeccompBPF, err = seccomp.CachedBPF(prof, filepath.Join(o.RunRoot, "seccomp")); err != nil {
		return nil, err
	}
	return s, nil
}

// shellMounts: a private /tmp, then home and the working directory
// writable (or home hidden with --no-home), a private /run, and the host's
// sockets hidden (shellsock.go).
func shellMounts(cwd string, o ShellOptions) []Op {
	noHome := o.NoHome
	ops := []Op{{Kind: KindMount, FSType: "tmpfs", Source: "tmpfs", Target: "/tmp", Flags: nsd, Data: "mode=1777"}}
	home := os.Getenv("HOME")
	switch {
	case home == "" || home == "/":
	case noHome:
		ops = append(ops, Op{Kind: KindMount, FSType: "tmpfs", Source: "tmpfs", Target: home, Flags: nsd, Data: "mode=0700"})
	default:
		ops = append(ops, Op{Kind: KindBind, Source: home, Target: home})
	}
	// The session's sockets (D-Bus, systemd, agents) would let the shell
	// run commands outside it: a read-only bind does not stop connect().
	// After home, which may hold the runtime directory.
	ops = append(ops, privateRun()...)
	for _, dir := range runtimeDirs() {
		ops = append(ops, Op{Kind: KindMount, FSType: "tmpfs", Source: "tmpfs", Target: dir, Flags: nsd, Data: "mode=0700", Optional: true})
	}
	// The working directory last: it stays writable even under /tmp or a
	// hidden home.
	if !SharedWorkdir(cwd, home) && (home == "" || noHome || !within(cwd, home)) {
		ops = append(ops, Op{Kind: KindBind, Source: cwd, Target: cwd})
	}
	return append(ops, socketOps(ops, o.HostSockets, o.Sockets)...)
}

// SharedWorkdir reports a working directory the shell does not make
// writable, because it is not the user's alone: /, a directory above
// $HOME, or one everyone may write to (/tmp, /var/tmp, /dev/shm). Binding
// /tmp would hand the host's /tmp over in place of the private one.
func SharedWorkdir(cwd, home string) bool {
	if cwd == "/" || (home != "" && home != cwd && within(home, cwd)) {
		return true
	}
	var st unix.Stat_t
	return unix.Stat(cwd, &st) == nil && st.Mode&(unix.S_IWOTH|unix.S_ISVTX) == unix.S_IWOTH|unix.S_ISVTX
}

// runtimeDirs are the user's session directories that exist.
func runtimeDirs() []string {
	var dirs []string
	for _, d := range []string{os.Getenv("XDG_RUNTIME_DIR"), fmt.Sprintf("/run/user/%d", os.Getuid())} {
		if fi, err := os.Stat(d); d != "" && err == nil && fi.IsDir() && !slices.Contains(dirs, d) {
			dirs = append(dirs, d)
		}
	}
	return dirs
}

func shellCommand(cmd []string) []string {
	if len(cmd) > 0 && cmd[0] == "--" {
		cmd = cmd[1:]
	}
	if len(cmd) > 0 {
		return cmd
	}
	if sh := os.Getenv("SHELL"); sh != "" {
		return []string{sh}
	}
	return []string{"/bin/sh"}
}

// shellEnv is the user's environment without husk's own markers, which
// would make a husk run inside the shell think it is in husk's namespace.
// The session's bus and agent addresses go too: their sockets are hidden.
func shellEnv() []string {
	drop := []string{abi.EnvUserns + "=", EnvSandbox, "DBUS_SESSION_BUS_ADDRESS=", "SSH_AUTH_SOCK=", "GPG_AGENT_INFO="}
	var env []string
	for _, e := range os.Environ() {
		if !slices.ContainsFunc(drop, func(p string) bool { return strings.HasPrefix(e, p) }) {
			env = append(env, e)
		}
	}
	return env
}

func within(path, dir string) bool {
	return path == dir || strings.HasPrefix(path, dir+"/")
}

// ScratchDir is the empty directory on which each sandbox's init mounts its
// private tmpfs. One serves all: each init's mount is its own.
func ScratchDir(runroot string) (string, error) {
	dir := filepath.Join(runroot, "scratch")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("creating %s: %w", dir, err)
	}
	return dir, nil
}
