package sandbox

import (
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/moby/sys/user"
)

// resolveUser turns -u user[:group] (or the image's User) into ids from the
// image's own /etc/passwd and /etc/group, after the pivot, as Docker does.
// It also sets HOME when the image's environment has none.
func resolveUser(s *Spec) (*syscall.Credential, error) {
	if s.KeepID {
		return nil, nil // the caller's own ids, already ours in the namespace
	}
	defaults := &user.ExecUser{Uid: 0, Gid: 0, Home: "/"}
	eu, err := user.GetExecUserPath(s.User, defaults, "/etc/passwd", "/etc/group")
	if err != nil {
		return nil, fmt.Errorf("user %q: %v: give a uid, or a name in the image's /etc/passwd", s.User, err)
	}
	if !hasEnv(s.Env, "HOME") {
		s.Env = append(s.Env, "HOME="+eu.Home)
	}
	if eu.Uid != 0 || eu.Gid != 0 {
		if err := checkMapped(eu.Uid, "/proc/self/uid_map"); err != nil {
			return nil, fmt.Errorf("user %q (uid %d): %w", s.User, eu.Uid, err)
		}
		if err := checkMapped(eu.Gid, "/proc/self/gid_map"); err != nil {
			return nil, fmt.Errorf("user %q (gid %d): %w", s.User, eu.Gid, err)
		}
	}
	groups := make([]uint32, 0, len(eu.Sgids))
	for _, g := range eu.Sgids {
		groups = append(groups, uint32(g))
	}
	return &syscall.Credential{
		Uid: uint32(eu.Uid), Gid: uint32(eu.Gid), Groups: groups,
		// With the single mapping the kernel forbids setgroups.
		NoSetGroups: s.NoSetGroups,
	}, nil
}

// checkMapped tells, before a setuid fails with a bare EINVAL, that an id has
// no place in husk's user namespace (no subuid range for this user).
func checkMapped(id int, mapFile string) error {
	b, err := os.ReadFile(mapFile)
	if err != nil {
		return nil // let setuid itself decide
	}
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var in, out, n int
		if _, err := fmt.Sscan(line, &in, &out, &n); err == nil && id >= in && id < in+n {
			return nil
		}
	}
	return fmt.Errorf("not mapped in husk's user namespace, because you have no subordinate id range: ask the admin for one (usermod --add-subuids 100000-165535 --add-subgids 100000-165535 $USER), or run as root in the sandbox with -u 0")
}

func hasEnv(env []string, key string) bool {
	for _, e := range env {
		if strings.HasPrefix(e, key+"=") {
			return true
		}
	}
	return false
}
