package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// SealedSelf is this binary copied into a sealed memfd: what husk runs of
// itself inside a running container (cp into it, a network attached to
// it), as runc does, so that a process of the container that opens its
// /proc/PID/exe reaches that copy, never the host's binary
// (CVE-2019-5736).
func SealedSelf() (*os.File, error) {
	self, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, fmt.Errorf("reading husk's own binary: %w", err)
	}
	defer self.Close()
	// MFD_EXEC: where vm.memfd_noexec makes memfds unexecutable by
	// default; a kernel before 6.3 knows no such flag.
	fd, err := unix.MemfdCreate("husk", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING|unix.MFD_EXEC)
	if errors.Is(err, unix.EINVAL) {
		fd, err = unix.MemfdCreate("husk", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	}
	if err != nil {
		return nil, fmt.Errorf("copying husk's own binary: %w", err)
	}
	f := os.NewFile(uintptr(fd), "husk")
	_, err = io.Copy(f, self)
	if err == nil {
		seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
		_, err = unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals)
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("copying husk's own binary: %w", err)
	}
	return f, nil
}
