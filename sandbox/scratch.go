package sandbox

import (
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// The scratch directory holds what the init makes for one sandbox: the
// generated files and, for throw-away roots, the overlay's upper layer. A
// tmpfs in the init's own mount namespace serves, so it vanishes with the
// sandbox and nothing needs cleaning after a crash.
func mountScratch(dir string) error {
	if err := mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0700"); err != nil {
		return err
	}
	for _, sub := range []string{"root", "files", "upper", "work"} {
		if err := os.Mkdir(filepath.Join(dir, sub), 0o755); err != nil {
			return fmt.Errorf("making %s in the scratch tmpfs: %w", sub, err)
		}
	}
	return nil
}

func scratchFile(dir string, i int) string {
	return filepath.Join(dir, "files", fmt.Sprint(i))
}

// writeFiles writes the generated files (hosts, hostname, resolv.conf) into
// the scratch tmpfs, to be bound into the root.
func writeFiles(dir string, files []File) error {
	for i, f := range files {
		if err := os.WriteFile(scratchFile(dir, i), []byte(f.Content), 0o644); err != nil {
			return fmt.Errorf("writing %s: %w", f.Path, err)
		}
	}
	return nil
}
