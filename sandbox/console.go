package sandbox

import (
	"fmt"
	"os"
	"syscall"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// openConsole opens a pty in the sandbox's own devpts, sends its master to
// the host side (which copies it to the user's terminal) and returns the
// slave for the process's stdio.
func openConsole(cred *syscall.Credential) (*os.File, error) {
	master, slave, err := pty.Open()
	if err != nil {
		return nil, fmt.Errorf("opening a pty in the sandbox: %w", err)
	}
	defer master.Close()
	if cred != nil {
		if err := slave.Chown(int(cred.Uid), int(cred.Gid)); err != nil {
			slave.Close()
			return nil, fmt.Errorf("handing the pty to uid %d: %w", cred.Uid, err)
		}
	}
	sock := os.NewFile(fdConsole, "console")
	defer sock.Close()
	rights := unix.UnixRights(int(master.Fd()))
	if err := unix.Sendmsg(int(sock.Fd()), []byte{0}, rights, nil, 0); err != nil {
		slave.Close()
		return nil, fmt.Errorf("sending the pty to husk: %w", err)
	}
	return slave, nil
}
