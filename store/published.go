package store

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// EnvImageStores lists read-only image stores (made by husk image
// publish), colon-separated: containers/storage's additional image stores.
const EnvImageStores = "HUSK_IMAGE_STORES"

// ImageStores are the absolute paths HUSK_IMAGE_STORES names. A path that
// does not exist is an error, not a silent empty store: a job that expects
// its images there would pull them instead.
func ImageStores() ([]string, error) {
	var out []string
	for p := range strings.SplitSeq(os.Getenv(EnvImageStores), ":") {
		if p == "" {
			continue
		}
		if !filepath.IsAbs(p) || strings.Contains(p, ",") {
			return nil, fmt.Errorf("%s: %q is not an absolute path without commas: give absolute paths separated by ':'", EnvImageStores, p)
		}
		if fi, err := os.Stat(p); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("%s: %s is not a directory: publish an image there first (husk image publish IMAGE %s), or fix the path", EnvImageStores, p, p)
		}
		out = append(out, filepath.Clean(p))
	}
	return out, nil
}

// imageStoreOption is the driver option that adds the read-only stores:
// containers/storage reads their images and layers beside the user's own
// and refuses to change them.
// Squashfs stores are not theirs: husk runs their files itself.
func imageStoreOption(driver string) ([]string, error) {
	stores, _, err := splitStores()
	if err != nil || len(stores) == 0 {
		return nil, err
	}
	return []string{driver + ".imagestore=" + strings.Join(stores, ",")}, nil
}
