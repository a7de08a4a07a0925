package store

import (
	"bufio"
	"fmt"
	"io"
	"os"

	tarsplit "github.com/vbatts/tar-split/tar/storage"
	storage "go.podman.io/storage"
	drivers "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/idtools"
	"golang.org/x/sys/unix"

	"husk/fuse"
)

// Layers are stored through the overlay driver's staging API: each tar
// stream is unpacked in this process (unpackInRoot) into a staging
// directory; the layer record is then created and the directory moved into
// place in one step under the store's lock. A failure leaves no record; its
// staging directory is removed here (or, after a kill, by the driver when
// the next husk closes the store).

// Staged is a layer unpacked into a staging directory and not yet in the
// store. Layers stage side by side; Commit puts them in, parent first, and
// Discard drops one.
type Staged struct {
	l    LayerInfo
	out  *drivers.DriverWithDifferOutput
	opts *drivers.ApplyDiffWithDifferOpts
}

// CanStage reports whether layers can be staged side by side: not on vfs,
// which has no staging API, nor where the unpacker cannot confine itself.
func (s *Store) CanStage() bool { return s.Strategy != fuse.VFS && canConfine() }

// Stage unpacks the tar stream of layer l into a staging directory. It
// reads the stream to its end: the caller's reader checks the blob and
// diff digests there, before anything is committed.
func (s *Store) Stage(l LayerInfo, tarStream io.Reader) (*Staged, error) {
	if s.HasLayer(l.ChainID) {
		return &Staged{l: l}, nil // stored already: nothing to unpack
	}
	u := &unpacker{src: tarStream, tmpDir: s.GraphRoot(), squash: s.Squashing}
	opts := &drivers.ApplyDiffWithDifferOpts{}
	out, err := s.PrepareStagedLayer(opts, u)
	if err != nil {
		if out != nil && out.Target != "" {
			_ = s.CleanupStagedLayer(out)
		}
		return nil, s.layerError(l, err)
	}
	return &Staged{l: l, out: out, opts: opts}, nil
}

// Commit creates the layer record and moves the staged directory into
// place, under a lock per layer between husk processes: a concurrent pull
// that committed the same layer first wins, and ours is dropped (the
// staging API would replace the stored layer's files). created is false
// then.
func (s *Store) Commit(st *Staged) (created bool, err error) {
	unlock, err := s.lockLayer(st.l.ChainID)
	if err != nil {
		s.Discard(st)
		return false, err
	}
	defer unlock()
	if st.out == nil || s.HasLayer(st.l.ChainID) {
		s.Discard(st)
		return false, nil
	}
	l := st.l
	st.out.CompressedDigest = l.Compressed
	st.out.UncompressedDigest = l.DiffID
	size := l.Size
	_, err = s.ApplyStagedLayer(storage.ApplyStagedLayerOptions{
		ID: l.ChainID, ParentLayer: l.Parent,
		LayerOptions: &storage.LayerOptions{OriginalDigest: l.Compressed, OriginalSize: &size, UncompressedDigest: l.DiffID},
		DiffOutput:   st.out, DiffOptions: st.opts,
	})
	if err != nil {
		s.Discard(st)
		return false, s.layerError(l, err)
	}
	return true, nil
}

// layerError names the layer and turns a full disk into its fix.
func (s *Store) layerError(l LayerInfo, err error) error {
	return fmt.Errorf("storing layer %s: %w", short(l.Compressed), annotateDisk(err, s.GraphRoot()))
}

// Discard removes a staged layer that will not be committed.
func (s *Store) Discard(st *Staged) {
	if st != nil && st.out != nil {
		_ = s.CleanupStagedLayer(st.out)
		st.out = nil
	}
}

// lockLayer serializes the storing of one layer between husk processes
// (two pulls of one image), so that the second finds it stored instead of
// unpacking it again. The locks are a fixed set of files, picked by the
// layer's ID, so that none is ever removed while someone waits on it.
func (s *Store) lockLayer(id string) (func(), error) {
	f, err := openLock(s.GraphRoot(), "layer", id)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil // closing releases the lock
}

// unpacker is a containers/storage Differ: it fills the staging directory
// from a tar stream and records what containers/storage records for a
// layer (tar-split, so that the layer's tar can be rebuilt byte for byte;
// the owners; the size).
type unpacker struct {
	src    io.Reader // the uncompressed tar stream
	tmpDir string    // for the tar-split file, unlinked at once
	squash bool      // the single-uid mapping: every file is ours
}

func (u *unpacker) Close() error { return nil }

func (u *unpacker) ApplyDiff(dest string, opts *archive.TarOptions, _ *drivers.DifferOptions) (out drivers.DriverWithDifferOutput, err error) {
	ts, err := os.CreateTemp(u.tmpDir, ".tar-split-")
	if err != nil {
		return out, err
	}
	_ = os.Remove(ts.Name()) // the open file is enough; nothing to leave behind
	defer func() {
		if err != nil {
			ts.Close()
		}
	}()
	if u.squash {
		// Under `0 uid 1` only uid and gid 0 exist: every entry is chowned
		// to them, which is what ignore_chown_errors ends with too, without
		// a failed lchown and a line on stderr per file of another owner.
		o := *opts
		o.ChownOpts = &idtools.IDPair{UID: 0, GID: 0}
		opts = &o
	}
	tsw := bufio.NewWriterSize(ts, 64<<10)
	sp := newSplitter(u.src, tarsplit.NewJSONPacker(tsw))
	ahead := readAhead(sp, 1<<20, 4)
	err = unpackInRoot(ahead, dest, opts)
	if err == nil {
		// The padding after the end-of-archive marker belongs to the
		// diff ID and the tar-split too; the source checks itself at its end.
		_, err = io.Copy(io.Discard, ahead)
	}
	ahead.Close() // from here on, nothing reads the source
	if err == nil {
		err = tsw.Flush()
	}
	if err != nil {
		return out, err
	}
	out = drivers.DriverWithDifferOutput{
		Size: sp.n, TarSplit: ts, UIDs: keys(sp.uids), GIDs: keys(sp.gids),
	}
	if sp.root != nil {
		// The layer says what its root directory is like; otherwise the
		// driver gives it the parent layer's mode.
		mode := sp.root.FileInfo().Mode()
		out.RootDirMode = &mode
	}
	return out, nil
}

func keys(m map[uint32]struct{}) []uint32 {
	out := make([]uint32, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
