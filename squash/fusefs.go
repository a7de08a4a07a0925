package squash

import (
	"context"
	"io"
	iofs "io/fs"
	"os"
	"path"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/filesystem/squashfs"
	"github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"
)

// The squashfs served read-only through FUSE. A directory is read when it
// is first looked in, once: a start reads the few directories it needs,
// not all of them (20,000 entries cost 0.25 s), and every later lookup is
// the kernel's and go-fuse's.

// tree is the root of the squashfs.
type tree struct {
	fs.Inode
	sq *squashfs.FileSystem
	// squashIDs: the single-uid mapping, where every owner is the one
	// mapped id (0), as husk's pull squashes them.
	squashIDs bool
	mu        sync.Mutex // the squashfs reader is not safe for concurrent use
	byIno     map[uint32]*fs.Inode
	// links: a regular file's attributes, whose link count each hard link
	// raises as its directory is read (a link in a directory not yet read
	// is not counted yet).
	links  map[uint32]*fuse.Attr
	chunks chunkCache
	// inflight: the chunks being decompressed, closed when done.
	inflight map[chunkKey]chan struct{}
	root     entries
	err      error
}

var _ fs.NodeOnAdder = (*tree)(nil)

// OnAdd reads the root directory, so that a file that cannot be read
// fails the mount.
func (t *tree) OnAdd(ctx context.Context) {
	t.byIno, t.links = map[uint32]*fs.Inode{}, map[uint32]*fuse.Attr{}
	t.root = entries{t: t, path: "."}
	t.err = t.root.load(ctx, &t.Inode)
}

// Getattr of the root: a directory, like an image's /.
func (t *tree) Getattr(_ context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Mode = syscall.S_IFDIR | 0o755
	return 0
}

func (t *tree) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return t.root.lookup(ctx, &t.Inode, name, out)
}

func (t *tree) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	return t.root.readdir(ctx, &t.Inode)
}

// entries are a directory's, read on first use.
type entries struct {
	t      *tree
	path   string
	loaded bool // under t.mu
}

// dir is a directory below the root.
type dir struct {
	fs.Inode
	entries
	attr fuse.Attr
}

func (d *dir) Getattr(_ context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Attr = d.attr
	return 0
}

func (d *dir) Lookup(ctx context.Context, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	return d.lookup(ctx, &d.Inode, name, out)
}

func (d *dir) Readdir(ctx context.Context) (fs.DirStream, syscall.Errno) {
	return d.readdir(ctx, &d.Inode)
}

// lookup finds name in the directory whose inode is in.
func (d *entries) lookup(ctx context.Context, in *fs.Inode, name string, out *fuse.EntryOut) (*fs.Inode, syscall.Errno) {
	if err := d.load(ctx, in); err != nil {
		return nil, syscall.EIO
	}
	ch := in.GetChild(name)
	if ch == nil {
		return nil, syscall.ENOENT
	}
	if ga, ok := ch.Operations().(fs.NodeGetattrer); ok {
		var ao fuse.AttrOut
		ga.Getattr(ctx, nil, &ao)
		out.Attr = ao.Attr
	}
	return ch, 0
}

func (d *entries) readdir(ctx context.Context, in *fs.Inode) (fs.DirStream, syscall.Errno) {
	if err := d.load(ctx, in); err != nil {
		return nil, syscall.EIO
	}
	var list []fuse.DirEntry
	for name, ch := range in.Children() {
		list = append(list, fuse.DirEntry{Name: name, Mode: ch.Mode(), Ino: ch.StableAttr().Ino})
	}
	// One order for every listing: a rewound directory stream lists again.
	slices.SortFunc(list, func(a, b fuse.DirEntry) int { return strings.Compare(a.Name, b.Name) })
	return fs.NewListDirStream(list), 0
}

// load adds the directory's entries under in, once.
func (d *entries) load(ctx context.Context, in *fs.Inode) error {
	t := d.t
	t.mu.Lock()
	defer t.mu.Unlock()
	if d.loaded {
		return nil
	}
	list, err := t.sq.ReadDir(d.path)
	if err != nil {
		return err
	}
	for _, e := range list {
		fi, err := e.Info()
		if err != nil {
			return err
		}
		st, _ := fi.Sys().(*squashfs.StatT)
		if st != nil {
			if h, ok := t.byIno[st.Inode]; ok && !fi.IsDir() {
				in.AddChild(e.Name(), h, false) // a hard link
				if a := t.links[st.Inode]; a != nil {
					a.Nlink++
				}
				continue
			}
		}
		attr := t.attr(fi, st)
		if bits, ok := specialBits(e); ok {
			attr.Mode = attr.Mode&^0o7777 | bits
		}
		child := t.node(ctx, path.Join(d.path, e.Name()), fi, st, attr)
		in.AddChild(e.Name(), child, false)
		if st != nil {
			t.byIno[st.Inode] = child
		}
	}
	d.loaded = true
	return nil
}

func (t *tree) node(ctx context.Context, p string, fi iofs.FileInfo, st *squashfs.StatT, attr fuse.Attr) *fs.Inode {
	stable := fs.StableAttr{Mode: attr.Mode & syscall.S_IFMT}
	if st != nil {
		stable.Ino = uint64(st.Inode) + 1 // 1 is the root's
	}
	m := fi.Mode()
	switch {
	case m&os.ModeSymlink != 0:
		target := ""
		if st != nil {
			target = st.LinkTarget
		}
		attr.Size = uint64(len(target))
		return t.NewPersistentInode(ctx, &symlink{fs.MemSymlink{Attr: attr, Data: []byte(target)}}, stable)
	case m.IsRegular():
		r := &regular{t: t, path: p, attr: attr}
		if st != nil {
			t.links[st.Inode] = &r.attr
		}
		return t.NewPersistentInode(ctx, r, stable)
	}
	if fi.IsDir() {
		return t.NewPersistentInode(ctx, &dir{entries: entries{t: t, path: p}, attr: attr}, stable)
	}
	return t.NewPersistentInode(ctx, &other{attr: attr}, stable)
}

func (t *tree) attr(fi iofs.FileInfo, st *squashfs.StatT) fuse.Attr {
	a := fuse.Attr{Mode: unixMode(fi.Mode()), Size: uint64(fi.Size()), Nlink: 1}
	if fi.IsDir() {
		a.Size = 4096
	}
	mt := fi.ModTime()
	a.SetTimes(&mt, &mt, &mt)
	if st != nil && !t.squashIDs {
		a.Uid, a.Gid = st.UID, st.GID
	}
	return a
}

// unixMode is an fs.FileMode as stat's mode.
func unixMode(m iofs.FileMode) uint32 {
	u := uint32(m.Perm())
	for _, b := range []struct {
		fm iofs.FileMode
		u  uint32
	}{{iofs.ModeSetuid, syscall.S_ISUID}, {iofs.ModeSetgid, syscall.S_ISGID}, {iofs.ModeSticky, syscall.S_ISVTX}} {
		if m&b.fm != 0 {
			u |= b.u
		}
	}
	switch {
	case m.IsDir():
		u |= syscall.S_IFDIR
	case m&iofs.ModeSymlink != 0:
		u |= syscall.S_IFLNK
	case m&iofs.ModeNamedPipe != 0:
		u |= syscall.S_IFIFO
	case m&iofs.ModeSocket != 0:
		u |= syscall.S_IFSOCK
	case m&iofs.ModeCharDevice != 0:
		u |= syscall.S_IFCHR
	case m&iofs.ModeDevice != 0:
		u |= syscall.S_IFBLK
	default:
		u |= syscall.S_IFREG
	}
	return u
}

// The squashfs's xattrs are not served. ENOSYS, unlike "no such
// attribute", tells the kernel so once for the whole mount: overlayfs asks
// for its own attributes on every lower entry it meets, a round trip each
// (20,000 for a find over 20,000 files).
func noXattrs() (uint32, syscall.Errno) { return 0, syscall.ENOSYS }

func (t *tree) Getxattr(context.Context, string, []byte) (uint32, syscall.Errno) { return noXattrs() }
func (o *other) Getxattr(context.Context, string, []byte) (uint32, syscall.Errno) {
	return noXattrs()
}
func (r *regular) Getxattr(context.Context, string, []byte) (uint32, syscall.Errno) {
	return noXattrs()
}
func (l *symlink) Getxattr(context.Context, string, []byte) (uint32, syscall.Errno) {
	return noXattrs()
}
func (d *dir) Getxattr(context.Context, string, []byte) (uint32, syscall.Errno) { return noXattrs() }

// symlink is a symbolic link.
type symlink struct{ fs.MemSymlink }

// other is a fifo, a socket or a device: attributes only
// (the squashfs reader does not give device numbers: such a node reads
// as 0:0, as a container's /dev is mounted over it anyway).
type other struct {
	fs.Inode
	attr fuse.Attr
}

func (o *other) Getattr(_ context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Attr = o.attr
	return 0
}

// regular is a file, read through open readers of its own (one per
// chunk being decompressed at once).
type regular struct {
	fs.Inode
	t    *tree
	path string
	attr fuse.Attr
	free []filesystem.File
	// prefetched: its first open started reading it ahead.
	prefetched bool
}

var (
	_ fs.NodeOpener    = (*regular)(nil)
	_ fs.NodeReader    = (*regular)(nil)
	_ fs.NodeGetattrer = (*regular)(nil)
)

func (r *regular) Getattr(_ context.Context, _ fs.FileHandle, out *fuse.AttrOut) syscall.Errno {
	out.Attr = r.attr
	return 0
}

func (r *regular) Open(_ context.Context, flags uint32) (fs.FileHandle, uint32, syscall.Errno) {
	if flags&(syscall.O_WRONLY|syscall.O_RDWR|syscall.O_TRUNC|syscall.O_APPEND) != 0 {
		return nil, 0, syscall.EROFS
	}
	r.t.mu.Lock()
	if !r.prefetched && int64(r.attr.Size) > chunkSize {
		r.prefetched = true
		go r.prefetch()
	}
	r.t.mu.Unlock()
	return nil, fuse.FOPEN_KEEP_CACHE, 0
}

// prefetch decompresses the file's chunks after the first, up to half the
// cache, beside the kernel's reads: a program is opened, then faulted in
// a chunk at a time, and the two run on two cores instead of one after
// the other (busybox's `true`: 40 ms of a start, before).
func (r *regular) prefetch() {
	r.t.mu.Lock()
	defer r.t.mu.Unlock()
	n := (int64(r.attr.Size) + chunkSize - 1) / chunkSize
	for idx := int64(1); idx < n && idx <= maxChunks/2; idx++ {
		if _, err := r.chunk(idx); err != nil {
			return
		}
	}
}

func (r *regular) Read(_ context.Context, _ fs.FileHandle, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	r.t.mu.Lock()
	defer r.t.mu.Unlock()
	n := 0
	for n < len(dest) && off+int64(n) < int64(r.attr.Size) {
		at := off + int64(n)
		c, err := r.chunk(at / chunkSize)
		if err != nil {
			return nil, syscall.EIO
		}
		i := int(at % chunkSize)
		if i >= len(c) {
			break
		}
		n += copy(dest[n:], c[i:])
	}
	return fuse.ReadResultData(dest[:n]), 0
}

// chunk is the file's idx'th chunkSize bytes, decompressed, from the
// tree's cache. The kernel faults an executable's pages in any order, a
// few at a time: without the cache each fault would decompress its whole
// block again (100 ms for busybox's `true`). It is called with the
// tree's lock held, which it lets go while it decompresses (data blocks
// are read with ReadAt, apart from the reader's other state): a chunk
// another read decompresses already is waited for.
func (r *regular) chunk(idx int64) ([]byte, error) {
	t := r.t
	key := chunkKey{r, idx}
	for {
		if c, ok := t.chunks.get(key); ok {
			return c, nil
		}
		done, busy := t.inflight[key]
		if !busy {
			break
		}
		t.mu.Unlock()
		<-done
		t.mu.Lock()
	}
	var f filesystem.File
	if k := len(r.free); k > 0 {
		f, r.free = r.free[k-1], r.free[:k-1]
	} else {
		var err error
		if f, err = t.sq.OpenFile(r.path, os.O_RDONLY); err != nil {
			return nil, err
		}
	}
	done := make(chan struct{})
	if t.inflight == nil {
		t.inflight = map[chunkKey]chan struct{}{}
	}
	t.inflight[key] = done
	t.mu.Unlock()
	c := make([]byte, min(chunkSize, int64(r.attr.Size)-idx*chunkSize))
	_, err := f.Seek(idx*chunkSize, io.SeekStart)
	if err == nil {
		_, err = io.ReadFull(f, c)
	}
	t.mu.Lock()
	delete(t.inflight, key)
	close(done)
	r.free = append(r.free, f)
	if err != nil {
		return nil, err
	}
	t.chunks.add(key, c)
	return c, nil
}

// specialBits is an entry's permission bits with setuid, setgid and sticky,
// which go-diskfs's FileMode leaves out (it keeps only the permissions):
// read from the inode's mode as the library stored it, an unexported
// field, so that a /tmp keeps its sticky bit and a setuid file its bit.
// TestSpecialBits notices when a new version of the library moves it.
func specialBits(e iofs.DirEntry) (uint32, bool) {
	v := reflect.ValueOf(e)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return 0, false
	}
	f := v.Elem().FieldByName("mode")
	if !f.IsValid() || f.Kind() != reflect.Uint32 {
		return 0, false
	}
	return uint32(f.Uint()) & 0o7777, true
}
