package pull

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"strconv"
	"strings"

	digest "github.com/opencontainers/go-digest"
)

// EscapeError is a layer entry that would write outside the root
// filesystem (CVE-2018-15664, CVE-2019-14271 and their kin).
type EscapeError struct {
	Name, Why string
}

func (e *EscapeError) Error() string {
	return fmt.Sprintf("refusing the image: the layer's entry %q %s: ask its publisher for an image without it", e.Name, e.Why)
}

// DiffIDError is an uncompressed layer that is not what the config says.
type DiffIDError struct {
	Got, Want digest.Digest
}

func (e *DiffIDError) Error() string {
	return fmt.Sprintf("the uncompressed layer has digest %s, the image config says %s", e.Got, e.Want)
}

// checker passes a tar stream through unchanged, byte for byte (so that
// containers/storage records the same tar-split and diff ID), and fails the
// read before an entry that escapes the root reaches the consumer. At the
// end of the stream it checks the stream's digest against the diff ID.
//
// Headers are parsed (by archive/tar, as containers/storage's unpacker
// parses them) into pending and handed out only after the check; file
// content goes from the source straight into the consumer's buffer, except
// a sparse file's: archive/tar hands out its content with the holes filled
// in, so its raw bytes are kept in pending as they are read instead.
type checker struct {
	src     io.Reader // the uncompressed stream, through the hasher
	hash    hash.Hash
	want    digest.Digest
	headers teeSwitch // src, kept in pending while headers are read
	tr      *tar.Reader
	pending bytes.Buffer // bytes read and checked, not yet handed out
	inEntry bool
	sparse  bool   // the entry's content is a sparse map and data: passed raw
	scratch []byte // where a sparse entry's filled-in content is dropped
	tarDone bool
	err     error           // sticky: the end of the stream or the first failure
	links   map[string]bool // symlinks seen so far in this layer
	size    int64           // the files' sizes so far, holes of sparse ones included
	limit   int64           // what they may add up to (0: no limit)
	noGNU   bool            // refuse old GNU sparse entries (the consumer cannot write them)
	blob    int64           // the compressed blob's size, for the message
}

// ExpansionError is a layer whose files would add up to far more than its
// blob: a sparse file (stored with its holes where layers are staged, but
// still read whole and written whole on vfs), or a decompression bomb. Legitimate layers stay far below it (gzip's ratio is at most 1032).
type ExpansionError struct {
	Name        string
	Limit, Blob int64
}

func (e *ExpansionError) Error() string {
	return fmt.Sprintf("refusing the layer: its files, up to %q, add up to more than %d MiB from a blob of %d bytes "+
		"(a sparse or zero-filled file, or a decompression bomb): ask its publisher for a smaller image, or raise the limit "+
		"with HUSK_LAYER_EXPANSION=MiB", e.Name, e.Limit>>20, e.Blob)
}

// expansionLimit is what a layer's files may add up to: a GiB, or 2000
// times its blob's size, whichever is more; HUSK_LAYER_EXPANSION (MiB)
// sets the first.
func expansionLimit(blob int64) int64 {
	floor := int64(1 << 30)
	if mib, err := strconv.ParseInt(os.Getenv("HUSK_LAYER_EXPANSION"), 10, 64); err == nil && mib > 0 {
		floor = mib << 20
	}
	return max(floor, 2000*blob)
}

func newChecker(r io.Reader, diffID digest.Digest) *checker {
	return newLimitedChecker(r, diffID, 0)
}

// newLimitedChecker is newChecker for a blob of blobSize bytes, whose
// files may add up to expansionLimit(blobSize): the check is on each
// header, before its file is written.
func newLimitedChecker(r io.Reader, diffID digest.Digest, blobSize int64) *checker {
	c := &checker{hash: sha256.New(), want: diffID, links: map[string]bool{}, blob: blobSize}
	if blobSize > 0 {
		c.limit = expansionLimit(blobSize)
	}
	c.src = io.TeeReader(r, c.hash)
	c.headers = teeSwitch{r: c.src, w: &c.pending, on: true}
	c.tr = tar.NewReader(&c.headers)
	return c
}

// teeSwitch is an io.TeeReader that can be switched off.
type teeSwitch struct {
	r  io.Reader
	w  *bytes.Buffer
	on bool
}

func (t *teeSwitch) Read(p []byte) (int, error) {
	n, err := t.r.Read(p)
	if t.on && n > 0 {
		t.w.Write(p[:n])
	}
	return n, err
}

func (c *checker) Read(p []byte) (int, error) {
	for {
		switch {
		case c.pending.Len() > 0:
			return c.pending.Read(p)
		case c.err != nil:
			return 0, c.err
		case c.inEntry && c.sparse:
			_, err := c.tr.Read(c.scratch) // its raw bytes go to pending
			if err == io.EOF {
				c.inEntry, err = false, nil
			}
			c.err = err
		case c.inEntry: // content, checked with its header
			c.headers.on = false
			n, err := c.tr.Read(p)
			c.headers.on = true
			if err == io.EOF {
				c.inEntry, err = false, nil
			}
			c.err = err
			if n > 0 {
				return n, nil
			}
		case c.tarDone: // the end-of-archive padding, passed through as is
			n, err := c.src.Read(p)
			if err == io.EOF {
				err = c.verify()
			}
			c.err = err
			if n > 0 {
				return n, nil
			}
		default:
			c.err = c.next()
		}
	}
}

// next reads and checks the next header, leaving its bytes in pending.
func (c *checker) next() error {
	hdr, err := c.tr.Next()
	if err == io.EOF {
		c.tarDone = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading the layer's tar stream: %w", err)
	}
	if err := c.check(hdr); err != nil {
		c.pending.Reset() // not one byte of a bad header goes on
		return err
	}
	c.inEntry = true
	c.sparse = isSparse(hdr)
	if c.sparse && c.scratch == nil {
		c.scratch = make([]byte, 256<<10)
	}
	return nil
}

// isSparse reports a GNU sparse entry, of the old type or in PAX records.
func isSparse(h *tar.Header) bool {
	if h.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range h.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

func (c *checker) verify() error {
	got := digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(c.hash.Sum(nil)))
	if c.want != "" && got != c.want {
		return &DiffIDError{Got: got, Want: c.want}
	}
	return io.EOF
}

// Finish reads what the consumer left unread and reports whether the whole
// stream was checked and matched its diff ID.
func (c *checker) Finish() error {
	if _, err := io.Copy(io.Discard, c); err != nil {
		return err
	}
	return nil
}

// check applies the rules to one header.
func (c *checker) check(h *tar.Header) error {
	name, err := c.clean(h.Name, "")
	if err != nil {
		return err
	}
	// A whiteout names a file of its directory: one of "." or ".." would
	// remove the directory, or the one above it (the root, from the top).
	if target, ok := strings.CutPrefix(path.Base(name), ".wh."); ok && (target == "" || target == "." || target == "..") {
		return &EscapeError{h.Name, fmt.Sprintf("is a whiteout of %q, not of a file in its directory", target)}
	}
	if h.Typeflag == tar.TypeGNUSparse && c.noGNU {
		return fmt.Errorf("refusing the layer: its entry %q is an old GNU sparse file (tar --sparse --format=gnu), which the vfs "+
			"strategy's unpacker cannot write: pull it with --storage-driver overlay or fuse-overlayfs, or ask its publisher "+
			"for an image built with tar --format=pax", h.Name)
	}
	if h.Typeflag == tar.TypeReg || h.Typeflag == tar.TypeGNUSparse {
		c.size += h.Size
		if c.limit > 0 && c.size > c.limit {
			return &ExpansionError{Name: h.Name, Limit: c.limit, Blob: c.blob}
		}
	}
	switch h.Typeflag {
	case tar.TypeSymlink:
		if !path.IsAbs(h.Linkname) && leaves(path.Join(path.Dir(name), h.Linkname)) {
			return &EscapeError{h.Name, fmt.Sprintf("is a symlink to %q, outside the image's root", h.Linkname)}
		}
		c.links[name] = true
	case tar.TypeLink:
		target, err := c.clean(h.Linkname, h.Name)
		if err != nil {
			return err
		}
		if c.links[target] {
			// A hard link to a symlink is that symlink under a second name:
			// nothing may pass through it either.
			c.links[name] = true
		}
	}
	return nil
}

// clean returns the entry's path relative to the root, or an EscapeError
// if it is absolute, leaves the root through "..", or passes through a
// symlink that this layer made. owner names the hard link, if p is its target.
func (c *checker) clean(p, owner string) (string, error) {
	what, subject := "", p
	if owner != "" {
		what, subject = fmt.Sprintf("is a hard link to %q, which ", p), owner
	}
	if path.IsAbs(p) {
		return "", &EscapeError{subject, what + "is an absolute path"}
	}
	if leaves(p) {
		return "", &EscapeError{subject, what + "leaves the image's root through \"..\""}
	}
	name := path.Clean(p)
	for dir := path.Dir(name); dir != "." && dir != "/"; dir = path.Dir(dir) {
		if c.links[dir] {
			return "", &EscapeError{subject, what + fmt.Sprintf("passes through the symlink %q", dir)}
		}
	}
	if owner == "" && c.links[name] {
		// Replacing the symlink itself is fine; it is no longer one.
		delete(c.links, name)
	}
	return name, nil
}

// leaves reports whether a relative path climbs above its starting point.
func leaves(p string) bool {
	depth := 0
	for _, part := range strings.Split(p, "/") {
		switch part {
		case "", ".":
		case "..":
			if depth--; depth < 0 {
				return true
			}
		default:
			depth++
		}
	}
	return false
}
