package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sys/unix"

	"husk/fuse"
)

// A run plan is what a sandbox's init learned from containers/storage
// about an image: its ID, its layers' directories and its config. The
// init records it; the next `husk run` of the same reference reads it on
// the host and starts the sandbox without opening the store (a Go
// runtime in the init, and the store's locks and JSON, are most of a
// start's cost). A plan holds only while the store's image and layer
// lists are unchanged since it was made: any pull, tag, rmi or reset
// rewrites them, and the plan is then ignored.
type ResolvedImage struct {
	ImageID  string        `json:"imageID"`
	Strategy fuse.Strategy `json:"strategy"`
	Lower    []string      `json:"lower"` // top layer first
	Config   v1.Config     `json:"config"`
	Stamp    string        `json:"stamp"`
}

// PlanKey names the plan of ref under the forced strategy and the ID
// mapping in use (mapping is any text that changes with it).
func ResolvedKey(ref, forced, mapping string) string {
	h := sha256.Sum256([]byte(ref + "\x00" + forced + "\x00" + mapping))
	return hex.EncodeToString(h[:12])
}

func resolvedPath(root, key string) string {
	return filepath.Join(root, "plans", key+".json")
}

// StoreStamp identifies the current state of the store's image and layer
// lists: inode, size and modification time of each.
func StoreStamp(graphroot string) string {
	var b strings.Builder
	for _, pat := range []string{"*-images/images.json", "*-layers/layers.json"} {
		files, _ := filepath.Glob(filepath.Join(graphroot, pat))
		for _, f := range files {
			var st unix.Stat_t
			if unix.Stat(f, &st) == nil {
				fmt.Fprintf(&b, "%s:%d:%d:%d.%d;", filepath.Base(filepath.Dir(f)), st.Ino, st.Size, st.Mtim.Sec, st.Mtim.Nsec)
			}
		}
	}
	return b.String()
}

// ReadPlan returns the plan for key when it still holds, or nil.
func ReadResolved(key string) *ResolvedImage {
	root, graphroot, _, err := Paths()
	if err != nil {
		return nil
	}
	b, err := os.ReadFile(resolvedPath(root, key))
	if err != nil {
		return nil
	}
	var p ResolvedImage
	if json.Unmarshal(b, &p) != nil || p.Stamp == "" || p.Stamp != StoreStamp(graphroot) || len(p.Lower) == 0 {
		return nil
	}
	return &p
}

// WritePlan records p for key; stamp must have been taken before the
// store was read. Failing to write only costs the next run its speed.
func WriteResolved(key string, p *ResolvedImage) {
	root, _, _, err := Paths()
	if err != nil || p.Stamp == "" {
		return
	}
	path := resolvedPath(root, key)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return
	}
	b, err := json.Marshal(p)
	if err != nil {
		return
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	if os.WriteFile(tmp, b, 0o600) != nil || os.Rename(tmp, path) != nil {
		os.Remove(tmp)
	}
}

// InUsePath is the lock file a sandbox holds shared while it uses image
// id (see HoldImage), for an init that takes it itself.
func InUsePath(id string) (string, error) {
	root, _, _, err := Paths()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(root, "inuse")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("marking image %.12s in use: %w", id, err)
	}
	return filepath.Join(dir, id), nil
}
