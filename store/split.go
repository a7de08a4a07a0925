package store

import (
	"bytes"
	"hash"
	"hash/crc64"
	"io"
	"path"
	"strings"

	"github.com/vbatts/tar-split/archive/tar"
	tarsplit "github.com/vbatts/tar-split/tar/storage"
	"go.podman.io/storage/pkg/archive"
)

// splitter passes a layer's tar stream through unchanged and, on the way,
// records what containers/storage keeps about a layer: the tar-split
// metadata (every byte that is not file content, and a CRC of each file's
// content, so that the exact tar can be rebuilt from the unpacked files),
// the owners of its entries, its size, and its root entry.
//
// It is tar-split's asm.NewInputTarStream turned inside out: that one
// parses in a goroutine fed through a pipe, which costs a goroutine switch
// per read; this one parses inside Read, on the reader's own goroutine (the
// unpacking thread, which is locked and so slow to hand off). The entries
// it packs are the same, in the same order.
type splitter struct {
	src     io.Reader
	tee     teeSwitch   // src, kept in pending while headers are read
	tr      *tar.Reader // reads tee
	pending bytes.Buffer
	packer  tarsplit.Packer
	err     error // sticky: io.EOF at the end, or the first failure

	state   int
	entry   tarsplit.Entry // the file entry being read
	sparse  bool           // the entry is GNU sparse: its content passes raw
	crc     hash.Hash64
	scratch []byte

	n          int64 // bytes passed through
	uids, gids map[uint32]struct{}
	root       *tar.Header
}

const (
	splitHeader  = iota // next: a header, or the end of the archive
	splitContent        // inside a file's content
	splitPadding        // after the end-of-archive marker
)

func newSplitter(src io.Reader, packer tarsplit.Packer) *splitter {
	s := &splitter{src: src, packer: packer, scratch: make([]byte, 128<<10),
		uids: map[uint32]struct{}{}, gids: map[uint32]struct{}{}}
	s.tee = teeSwitch{r: src, w: &s.pending, on: true}
	s.tr = tar.NewReader(&s.tee)
	s.tr.RawAccounting = true
	return s
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

func (s *splitter) Read(p []byte) (int, error) {
	for {
		if s.pending.Len() > 0 {
			n, _ := s.pending.Read(p)
			s.n += int64(n)
			return n, nil
		}
		if s.err != nil {
			return 0, s.err
		}
		if s.state != splitContent {
			s.err = s.step()
			continue
		}
		if s.sparse {
			// archive/tar fills a sparse file's holes in: its raw bytes
			// (map and data) go on, kept in pending as they are read; the
			// CRC is of the content, as asm's.
			n, err := s.tr.Read(s.scratch)
			s.crc.Write(s.scratch[:n])
			s.err = s.contentRead(err)
			continue
		}
		// File content goes from the source straight to the reader.
		s.tee.on = false
		n, err := s.tr.Read(p)
		s.tee.on = true
		s.crc.Write(p[:n])
		s.n += int64(n)
		s.err = s.contentRead(err)
		if n > 0 {
			return n, nil
		}
	}
}

// contentRead ends the entry when its content is read.
func (s *splitter) contentRead(err error) error {
	if err == io.EOF {
		s.entry.Payload = s.crc.Sum(nil)
		s.state = splitHeader
		return s.endEntry()
	}
	return err
}

// step moves the parse on by one header or the padding after the
// end-of-archive marker, leaving what it read in pending, as asm's loop does.
func (s *splitter) step() error {
	switch s.state {
	case splitPadding:
		// The padding after the marker, kept as it is, in bounded pieces.
		n, err := s.src.Read(s.scratch)
		s.pending.Write(s.scratch[:n])
		if n > 0 {
			if aerr := s.segment(s.scratch[:n]); aerr != nil {
				return aerr
			}
		}
		return err
	}
	hdr, err := s.tr.Next()
	if err != nil && err != io.EOF {
		return err
	}
	if err == io.EOF || hdr == nil {
		s.state = splitPadding
		return s.segment(s.tr.RawBytes())
	}
	s.note(hdr)
	if err := s.segment(s.tr.RawBytes()); err != nil {
		return err
	}
	s.entry = tarsplit.Entry{Type: tarsplit.FileType, Size: hdr.Size}
	s.entry.SetName(hdr.Name)
	s.sparse = hdr.Typeflag == tar.TypeGNUSparse
	for k := range hdr.PAXRecords {
		s.sparse = s.sparse || strings.HasPrefix(k, "GNU.sparse.")
	}
	if hdr.Size > 0 {
		s.crc = crc64.New(tarsplit.CRCTable)
		s.state = splitContent
		return nil
	}
	return s.endEntry()
}

func (s *splitter) endEntry() error {
	if _, err := s.packer.AddEntry(s.entry); err != nil {
		return err
	}
	return s.segment(s.tr.RawBytes())
}

func (s *splitter) segment(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	_, err := s.packer.AddEntry(tarsplit.Entry{Type: tarsplit.SegmentType, Payload: b})
	return err
}

// note records an entry's owners (not a whiteout's, as containers/storage
// does) and the layer's root entry.
func (s *splitter) note(h *tar.Header) {
	if path.Clean("/"+h.Name) == "/" && h.Typeflag == tar.TypeDir {
		s.root = h
	}
	if strings.HasPrefix(path.Base(h.Name), archive.WhiteoutPrefix) {
		return
	}
	s.uids[uint32(h.Uid)] = struct{}{}
	s.gids[uint32(h.Gid)] = struct{}{}
}
