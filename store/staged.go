package store

import (
	"bufio"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"path/filepath"

	tarsplit "github.com/vbatts/tar-split/tar/storage"
	storage "go.podman.io/storage"
	drivers "go.podman.io/storage/drivers"
	"go.podman.io/storage/pkg/archive"
	"go.podman.io/storage/pkg/idtools"
	"golang.org/x/sys/unix"
)

// putStaged stores layer l through the overlay driver's staging API: the
// tar stream is unpacked in this process (unpackInRoot) into a staging
// directory, and the layer record is created and the directory moved into
// place in one step under the store's lock. A failure leaves no record; its
// staging directory is removed here (or, after a kill, by the driver when
// the next husk closes the store).
//
// The stream is read to its end before the layer is committed: the
// caller's reader checks the blob and diff digests there.
func (s *Store) putStaged(l LayerInfo, tarStream io.Reader) (created bool, err error) {
	unlock, err := s.lockLayer(l.ChainID)
	if err != nil {
		return false, err
	}
	defer unlock()
	// A concurrent pull that held the lock before us has stored it. The
	// staging API would replace the existing layer's files, never do that.
	if s.HasLayer(l.ChainID) {
		return false, nil
	}
	u := &unpacker{src: tarStream, tmpDir: s.GraphRoot(), squash: s.Squashing}
	opts := &drivers.ApplyDiffWithDifferOpts{}
	out, err := s.PrepareStagedLayer(opts, u)
	if err != nil {
		if out != nil && out.Target != "" {
			_ = s.CleanupStagedLayer(out)
		}
		return false, err
	}
	out.CompressedDigest = l.Compressed
	out.UncompressedDigest = l.DiffID
	size := l.Size
	_, err = s.ApplyStagedLayer(storage.ApplyStagedLayerOptions{
		ID: l.ChainID, ParentLayer: l.Parent,
		LayerOptions: &storage.LayerOptions{OriginalDigest: l.Compressed, OriginalSize: &size, UncompressedDigest: l.DiffID},
		DiffOutput:   out, DiffOptions: opts,
	})
	if err != nil {
		_ = s.CleanupStagedLayer(out)
		return false, err
	}
	return true, nil
}

// lockLayer serializes the storing of one layer between husk processes
// (two pulls of one image), so that the second finds it stored instead of
// unpacking it again. The locks are a fixed set of files, picked by the
// layer's ID, so that none is ever removed while someone waits on it.
func (s *Store) lockLayer(id string) (func(), error) {
	dir := filepath.Join(s.GraphRoot(), "husk-locks")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("creating the lock directory %s: %w", dir, err)
	}
	h := fnv.New32a()
	h.Write([]byte(id))
	name := filepath.Join(dir, fmt.Sprintf("layer-%02d.lock", h.Sum32()%64))
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the lock %s: %w", name, err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("locking %s: %w", name, err)
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
