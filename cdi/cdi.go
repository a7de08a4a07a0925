// Package cdi resolves Container Device Interface devices (--device
// VENDOR/CLASS=NAME, --gpus) in the CDI specs with the CNCF's library, and
// turns what their specs edit into husk's own container config, once at
// create: device nodes become bound devices, mounts binds, environment
// variables the process's, hooks the init's. Every start then applies
// them with the one executor, inside the user namespace.
package cdi

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"tags.cncf.io/container-device-interface/pkg/cdi"
	"tags.cncf.io/container-device-interface/pkg/parser"
	cdispec "tags.cncf.io/container-device-interface/specs-go"
)

// Dirs are the directories searched, lowest priority first: the system's
// static specs (/etc/cdi) and generated ones (/var/run/cdi), as every CDI
// runtime reads them, then the user's own ($XDG_CONFIG_HOME/cdi, else
// ~/.config/cdi), which comes last so that a user's spec may stand in for
// a system device of the same name in that user's own containers.
func Dirs() []string {
	dirs := []string{cdi.DefaultStaticDir, cdi.DefaultDynamicDir}
	if u := userDir(); u != "" {
		dirs = append(dirs, u)
	}
	return dirs
}

func userDir() string {
	if x := os.Getenv("XDG_CONFIG_HOME"); filepath.IsAbs(x) {
		return filepath.Join(x, "cdi")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".config", "cdi")
	}
	return ""
}

// IsName says whether a --device value is a CDI device's qualified name
// (VENDOR/CLASS=NAME) rather than a host path.
func IsName(s string) bool {
	return !strings.HasPrefix(s, "/") && parser.IsQualifiedName(s)
}

// Devices are the qualified names of the devices the specs in dirs
// define, sorted (husk info lists them).
func Devices(dirs []string) []string {
	cache, _ := cdi.NewCache(cdi.WithSpecDirs(dirs...), cdi.WithAutoRefresh(false))
	return cache.ListDevices()
}

// Lookup finds each named device in the specs of dirs and returns their
// edits merged in order: each spec's own edits once, then the device's.
func Lookup(dirs []string, names []string) (*cdispec.ContainerEdits, error) {
	cache, _ := cdi.NewCache(cdi.WithSpecDirs(dirs...), cdi.WithAutoRefresh(false))
	edits := &cdi.ContainerEdits{ContainerEdits: &cdispec.ContainerEdits{}}
	seen := map[*cdi.Spec]bool{}
	for _, name := range names {
		d := cache.GetDevice(name)
		if d == nil {
			return nil, unknown(cache, dirs, name)
		}
		if s := d.GetSpec(); !seen[s] {
			seen[s] = true
			edits.Append(&cdi.ContainerEdits{ContainerEdits: &s.ContainerEdits})
		}
		edits.Append(&cdi.ContainerEdits{ContainerEdits: &d.ContainerEdits})
	}
	if err := edits.Validate(); err != nil {
		return nil, fmt.Errorf("CDI devices %s: their specs are invalid: %w: fix the specs", strings.Join(names, ", "), err)
	}
	return edits.ContainerEdits, nil
}

// unknown names a device no spec defines, the directories searched, and
// the first spec that could not be read, which may be the one meant.
func unknown(cache *cdi.Cache, dirs []string, name string) error {
	why := ""
	errs := cache.GetErrors()
	paths := slices.Sorted(maps.Keys(errs))
	for _, path := range paths {
		if !slices.Contains(dirs, path) && len(errs[path]) > 0 {
			why = fmt.Sprintf(" (the spec %s could not be read: %v)", path, errs[path][0])
			break
		}
	}
	return fmt.Errorf("unknown CDI device %s: no CDI spec in %s defines it%s: write a spec for it there, or name a device one defines",
		name, strings.Join(dirs, ", "), why)
}
