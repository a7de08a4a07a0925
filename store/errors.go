package store

import (
	"errors"
	"fmt"
	"syscall"
)

// DiskFullError is a write that ran out of space or quota in the store.
type DiskFullError struct {
	Path string
	Err  error
}

func (e *DiskFullError) Error() string {
	what := "the disk is full"
	if errors.Is(e.Err, syscall.EDQUOT) {
		what = "the disk quota is exceeded"
	}
	return fmt.Sprintf("%s under %s: free space there (husk rmi, husk system reset), or set HUSK_ROOT to a larger file system", what, e.Path)
}

func (e *DiskFullError) Unwrap() error { return e.Err }

// IsDiskFull reports ENOSPC or EDQUOT anywhere in err's chain.
func IsDiskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// annotateDisk turns a full disk under path into a DiskFullError and leaves
// other errors alone.
func annotateDisk(err error, path string) error {
	var d *DiskFullError
	if err == nil || errors.As(err, &d) || !IsDiskFull(err) {
		return err
	}
	return &DiskFullError{Path: path, Err: err}
}

// AnnotateDisk is annotateDisk for work outside the store's own calls (an
// export's layer files in the store's work directory).
func AnnotateDisk(err error, path string) error { return annotateDisk(err, path) }
