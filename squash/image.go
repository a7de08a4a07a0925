package squash

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"github.com/diskfs/go-diskfs/backend/file"
	"github.com/diskfs/go-diskfs/filesystem/squashfs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Image is what a start needs of a squashfs file: an ID and the config.
type Image struct {
	File   string // absolute
	ID     string
	Config v1.Config
	// ConfigFile is the whole config husk image squash kept (created,
	// platform, layers), nil in a squashfs without one.
	ConfigFile *v1.ConfigFile
}

// open reads the squashfs at path (read-only): the whole file, or a
// SIF's partition in place; isSIF says which.
func open(path string) (sq *squashfs.FileSystem, f *os.File, isSIF bool, err error) {
	f, err = os.Open(path)
	if err != nil {
		return nil, nil, false, err
	}
	r, err := locate(f, path)
	if err == nil {
		sq, err = squashfs.Read(file.New(f, true), r.size, r.off, 0)
		if err != nil {
			err = fmt.Errorf("reading the squashfs %s: %w: make it again (husk image squash or mksquashfs)", path, err)
		}
	}
	if err != nil {
		f.Close()
		return nil, nil, false, err
	}
	return sq, f, r.off != 0, nil
}

// Load checks file and reads its config. A squashfs without one (enroot's,
// a SIF's) runs /bin/sh (a SIF: its runscript) with a default PATH unless
// a command is given.
func Load(file string) (*Image, error) {
	abs, err := Check(file)
	if err != nil {
		return nil, err
	}
	sq, f, isSIF, err := open(abs)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img := &Image{File: abs, ID: fileID(abs, f)}
	b, err := sq.ReadFile(ConfigPath)
	if errors.Is(err, fs.ErrNotExist) || err != nil && !isDir(sq, ".husk") {
		img.Config = v1.Config{Env: []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
			Cmd: []string{"/bin/sh"}}
		if isSIF {
			sifDefaults(sq, img)
		}
		return img, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading /%s in %s: %w: make the file again with husk image squash", ConfigPath, abs, err)
	}
	var cfg v1.ConfigFile
	if err := json.Unmarshal(b, &cfg); err != nil {
		return nil, fmt.Errorf("reading /%s in %s: %w: make the file again with husk image squash", ConfigPath, abs, err)
	}
	img.Config, img.ConfigFile = cfg.Config, &cfg
	// Volumes are the store's (filled from an image in it): a file's
	// image has none.
	img.Config.Volumes = nil
	return img, nil
}

func isDir(sq *squashfs.FileSystem, p string) bool {
	st, err := sq.Stat(p)
	return err == nil && st.IsDir()
}

// fileID names the file's contents as they are now: its path, size,
// modification time and inode number, hashed (the whole file is not read
// at each start). The inode tells a file made again at the same path
// within one second and of the same size (sshfs keeps whole seconds, and
// a squashfs's size is a multiple of 4 KiB) from the one it replaced.
func fileID(abs string, f *os.File) string {
	st, _ := f.Stat()
	var ino uint64
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		ino = sys.Ino
	}
	h := sha256.Sum256([]byte(fmt.Sprint(abs, st.Size(), st.ModTime().UnixNano(), ino)))
	return hex.EncodeToString(h[:])
}
