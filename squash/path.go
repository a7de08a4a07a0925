// Package squash is husk's single-file images: an image's flattened root
// filesystem and its config written as one squashfs file (Write), and such
// a file (or enroot's .sqsh, a squashfs of a root filesystem alone, or
// the squashfs partition of an Apptainer SIF, read in place) run
// without unpacking: served by husk's own FUSE server in the sandbox's
// user namespace, under an overlay whose upper layer is on the sandbox's
// scratch tmpfs.
package squash

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// ConfigPath is where in the squashfs the image's config (an OCI image
// config, JSON) is kept, so that the one file carries it; enroot keeps
// its environment in the root filesystem likewise.
const ConfigPath = ".husk/config.json"

// IsPath says whether an image argument names a file rather than an image
// in the store: it contains a '/' or ends in .sqsh, .squashfs or .sif.
func IsPath(ref string) bool {
	for _, ext := range []string{".sqsh", ".squashfs", ".sif"} {
		if strings.HasSuffix(ref, ext) {
			return true
		}
	}
	return strings.Contains(ref, "/") && (strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "."))
}

// Check is the absolute path of file, refused in one line when it cannot
// be run: missing, not a regular file, or no squashfs (a SIF's included).
func Check(file string) (string, error) {
	abs, err := filepath.Abs(file)
	if err != nil {
		return "", fmt.Errorf("running %s: %w: give the image file's path", file, err)
	}
	if strings.ContainsAny(abs, ",:\n") {
		return "", fmt.Errorf("running %s: a squashfs file's path may not contain ',', ':' or a newline (mount options): rename or move it", file)
	}
	f, err := os.Open(abs)
	if err != nil {
		return "", fmt.Errorf("running %s: %w: a name that starts with / or . is a squashfs file's path, not an image's name: give the path of a squashfs file (husk image squash makes one)", file, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return "", fmt.Errorf("running %s: not a regular file: give the path of a squashfs file", file)
	}
	if _, err := locate(f, file); err != nil {
		return "", err
	}
	return abs, nil
}
