package container

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// run --join's bookkeeping. A joined container's tasks are counted by the
// processes that live, not by a counter: each task's husk writes a member
// file named PID.STARTTIME in the container's run directory, and a member
// whose process is gone (killed with -9, say) no longer counts. Joining
// and leaving hold the store's join lock, so two first tasks never both
// create, and a last task never stops a container another is joining.

// JoinLock takes the store-wide lock of run --join.
func (s *Store) JoinLock() (func(), error) {
	return flock(filepath.Join(s.dir, ".join.lock"))
}

func membersDir(id string) (string, error) {
	dir, err := RunDir(id)
	if err != nil {
		return "", err
	}
	return filepath.Join(dir, "members"), nil
}

// AddMember records this process as a task of container id.
func AddMember(id string) error {
	dir, err := membersDir(id)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("joining container %s: %w", id, err)
	}
	path := filepath.Join(dir, memberName(os.Getpid()))
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		return fmt.Errorf("joining container %s: %w", id, err)
	}
	return nil
}

// DropMember forgets this process as a task of container id.
func DropMember(id string) {
	if dir, err := membersDir(id); err == nil {
		_ = os.Remove(filepath.Join(dir, memberName(os.Getpid())))
	}
}

func memberName(pid int) string {
	return fmt.Sprintf("%d.%d", pid, StartTime(pid))
}

// LiveMembers counts container id's tasks whose process still runs; the
// files of those gone are removed.
func LiveMembers(id string) int {
	dir, err := membersDir(id)
	if err != nil {
		return 0
	}
	entries, _ := os.ReadDir(dir)
	n := 0
	for _, e := range entries {
		p, st, _ := strings.Cut(e.Name(), ".")
		pid, _ := strconv.Atoi(p)
		start, _ := strconv.ParseUint(st, 10, 64)
		if alive(pid, start) {
			n++
		} else {
			_ = os.Remove(filepath.Join(dir, e.Name()))
		}
	}
	return n
}
