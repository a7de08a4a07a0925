package start

import (
	"husk/sandbox"
	"husk/store"
)

// ScratchDir is the run root and, in it, the directory where an init
// mounts its scratch tmpfs.
func ScratchDir() (runroot, scratch string, err error) {
	if _, _, runroot, err = store.Paths(); err != nil {
		return "", "", err
	}
	scratch, err = sandbox.ScratchDir(runroot)
	return runroot, scratch, err
}
