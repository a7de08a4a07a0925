package store

import (
	"bytes"
	"fmt"
	"os"
)

// PidRunning reports whether process pid runs: a zombie (killed, its
// parent yet to reap it) or a dying one does not.
func PidRunning(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z' && b[i+2] != 'X'
}
