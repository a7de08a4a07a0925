package store

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"husk/fuse"
)

// Where husk does not write a layer's files itself, holes are made after
// the fact (issue 19, item 1). vfs copies every layer's parent and every
// container's image (containers/storage's DirCopy, whose copy_file_range
// writes a hole as zeros on most file systems) and unpacks with
// containers/storage's extractor: a 1 GiB sparse file took a GiB per layer
// and per container. KeepHoles punches the zero blocks of the large files
// of such a copy out again (fallocate PUNCH_HOLE): the files read the
// same, their times are put back. The pull's expansion bound
// (pull/validate.go) caps what is written before that.

// KeepHoles gives the large files in dir, a vfs layer or copy made over
// the layer parent ("" for none), their holes back. Only files that may
// have them are read: those that differ from the parent's (the layer's
// own), and those whose parent's copy has holes. Elsewhere it does
// nothing: the other drivers' layers are unpacked with their holes
// (sparse.go), and overlay copies nothing.
func (s *Store) KeepHoles(dir, parent string) {
	if s.Strategy != fuse.VFS {
		return
	}
	parentDir := ""
	if parent != "" {
		parentDir = filepath.Join(s.GraphRoot(), "vfs", "dir", parent)
	}
	punchDir(dir, parentDir)
}

// punchDir is KeepHoles on two directories. A file it cannot read or
// punch stays as it is: its content is never at stake.
func punchDir(dir, parentDir string) {
	_ = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		var st unix.Stat_t
		if unix.Lstat(path, &st) != nil || st.Size < sparseMin || st.Blocks*512 < st.Size {
			return nil // small, or holes already
		}
		if parentDir != "" {
			rel, _ := filepath.Rel(dir, path)
			var pst unix.Stat_t
			if unix.Lstat(filepath.Join(parentDir, rel), &pst) == nil && pst.Mode&unix.S_IFMT == unix.S_IFREG &&
				pst.Size == st.Size && pst.Mtim == st.Mtim && pst.Blocks*512 >= pst.Size {
				return nil // the parent's file, without holes there either
			}
		}
		_ = punchZeros(path)
		return nil
	})
}

// punchZeros makes a hole of every zero block of the file at path. Files
// with a setuid or setgid bit or a file capability are left alone: a
// change to a file's blocks may clear those.
func punchZeros(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	fd := int(f.Fd())
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return err
	}
	if st.Mode&(unix.S_ISUID|unix.S_ISGID) != 0 {
		return nil
	}
	if _, err := unix.Fgetxattr(fd, "security.capability", nil); err == nil {
		return nil
	}
	buf := make([]byte, 1<<20)
	punched := false
	for off := int64(0); ; {
		n, err := io.ReadFull(f, buf)
		for i := 0; i+holeBlock <= n; {
			if !isZeroBlock(buf[i : i+holeBlock]) {
				i += holeBlock
				continue
			}
			j := i + holeBlock
			for j+holeBlock <= n && isZeroBlock(buf[j:j+holeBlock]) {
				j += holeBlock
			}
			if perr := unix.Fallocate(fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off+int64(i), int64(j-i)); perr != nil {
				return fmt.Errorf("punching a hole in %s: %w", path, perr)
			}
			punched = true
			i = j
		}
		off += int64(n)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	if !punched {
		return nil
	}
	// The punch counts as a change to the file: its times go back to what
	// the layer gave it.
	ts := []unix.Timespec{st.Atim, st.Mtim}
	return unix.UtimesNanoAt(unix.AT_FDCWD, fmt.Sprintf("/proc/self/fd/%d", fd), ts, 0)
}

func isZeroBlock(b []byte) bool {
	return bytes.Equal(b, zeroBlock[:len(b)])
}

// HoleWriter writes a stream to a new file at its start, leaving a hole
// where a whole aligned block is zero: a layer's tar of a sparse file, or
// a sparse file copied, takes the file's blocks, not its size. Close sets
// the file's size.
type HoleWriter struct {
	f   *os.File
	off int64
	blk []byte // the block being filled
}

// NewHoleWriter writes to f from offset 0.
func NewHoleWriter(f *os.File) *HoleWriter {
	return &HoleWriter{f: f, blk: make([]byte, 0, holeBlock)}
}

func (w *HoleWriter) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		if len(w.blk) == 0 && len(p) >= holeBlock {
			// Whole blocks straight from p: runs of data in one write.
			n := len(p) / holeBlock * holeBlock
			if err := writeNonZero(w.f, p[:n], w.off); err != nil {
				return total - len(p), err
			}
			w.off += int64(n)
			p = p[n:]
			continue
		}
		k := min(holeBlock-len(w.blk), len(p))
		w.blk = append(w.blk, p[:k]...)
		p = p[k:]
		if len(w.blk) == holeBlock {
			if err := writeNonZero(w.f, w.blk, w.off); err != nil {
				return total - len(p), err
			}
			w.off += holeBlock
			w.blk = w.blk[:0]
		}
	}
	return total, nil
}

// Close writes the last part-block and sets the file's size; it does not
// close the file.
func (w *HoleWriter) Close() error {
	if len(w.blk) > 0 {
		if _, err := w.f.WriteAt(w.blk, w.off); err != nil {
			return err
		}
		w.off += int64(len(w.blk))
		w.blk = w.blk[:0]
	}
	return w.f.Truncate(w.off)
}
