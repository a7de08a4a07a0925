package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/static"
	"github.com/google/go-containerregistry/pkg/v1/stream"
	"github.com/google/go-containerregistry/pkg/v1/types"
	storage "go.podman.io/storage"

	"husk/store"
)

// A push of a layer no registry has seen gzips its tar while it is sent:
// the compression of one part overlaps the transfer of the one before,
// with no work file between them. The blob's digest is known only at its
// end, so the registry cannot be asked for it first; a record of the
// digests husk's gzip gave before (gzipRecord) lets a later push ask.

// Upload is an image of the store whose layers are gzipped as they are
// read (GzLayer): send each, then Image is the image they make.
type Upload struct {
	config []byte
	form   Form
	layers []*GzLayer
}

// NewUpload prepares img's layers for a push in form f (Compress is
// implied). out, if not nil, hears of each layer as its sending starts.
func NewUpload(ctx context.Context, s *store.Store, img *storage.Image, f Form, out io.Writer) (*Upload, error) {
	f.Compress = true
	cfg, err := s.Config(img)
	if err != nil {
		return nil, err
	}
	diffIDs, err := configDiffIDs(cfg, img.ID)
	if err != nil {
		return nil, err
	}
	ids, err := layerChain(s, img)
	if err != nil {
		return nil, err
	}
	if len(ids) != len(diffIDs) {
		return nil, fmt.Errorf("image %.12s has %d layers but its config names %d: pull the image again", img.ID, len(ids), len(diffIDs))
	}
	u := &Upload{config: cfg, form: f}
	rec := newGzipRecord(s)
	mt := (&exportCore{form: f}).layerType()
	for i, id := range ids {
		l := &GzLayer{ctx: ctx, layer: id, diffID: diffIDs[i], mt: mt, rec: rec, out: out, n: i + 1, of: len(ids)}
		l.tar = func(w io.Writer) error { return copyTar(ctx, s, id, w) }
		l.digest, l.size, l.known = rec.get(l.diffID)
		l.recorded = l.known
		u.layers = append(u.layers, l)
	}
	return u, nil
}

// Layers are the layers to send, the bottom one first.
func (u *Upload) Layers() []v1.Layer {
	out := make([]v1.Layer, len(u.layers))
	for i, l := range u.layers {
		out[i] = l
	}
	return out
}

// StoredLayers are the store's layers of the image, the bottom one first.
func (u *Upload) StoredLayers() []string {
	out := make([]string, len(u.layers))
	for i, l := range u.layers {
		out[i] = l.layer
	}
	return out
}

// DiffID is the digest of layer i's tar, as the image's config has it.
func (u *Upload) DiffID(i int) v1.Hash { return u.layers[i].diffID }

// Found says layer i is in the registry already as the blob digest, of
// size bytes (the gzip it was pulled as): the push sends that instead,
// and the manifest names it. Nothing is recorded of it: the record is
// of husk's own gzip.
func (u *Upload) Found(i int, digest v1.Hash, size int64) {
	l := u.layers[i]
	l.mu.Lock()
	defer l.mu.Unlock()
	l.digest, l.size, l.known, l.recorded = digest, size, true, false
}

// Failure is why a layer's blob was cut short (the store's tar not the
// config's, a stale record), if one was: the upload's own error only says
// that its body ended.
func (u *Upload) Failure() error {
	for _, l := range u.layers {
		l.mu.Lock()
		err := l.failed
		l.mu.Unlock()
		if err != nil {
			return err
		}
	}
	return nil
}

// Refused is the registry's word that a blob it got did not match its
// digest: a recorded gzip (sent unsummed) not as recorded. Every record
// this upload used is removed; the next push learns the digests again.
func (u *Upload) Refused() {
	for _, l := range u.layers {
		if l.recorded {
			l.rec.drop(l.diffID)
		}
	}
}

// Config is the image's config as a blob: known before any layer is
// sent, so it can go beside them rather than after.
func (u *Upload) Config() v1.Layer {
	return static.NewLayer(u.config, (&exportCore{form: u.form}).configType())
}

// Image is the image, once every layer has been sent (or found sent).
func (u *Upload) Image() (v1.Image, error) {
	core := &exportCore{config: u.config, form: u.form}
	for _, l := range u.layers {
		d, err := l.Digest()
		if err != nil {
			return nil, fmt.Errorf("layer %.12s was not sent: %w", l.layer, err)
		}
		core.layers = append(core.layers, blob{layer: l.layer, digest: d, size: l.size, diffID: l.diffID})
	}
	var err error
	if core.manifest, err = core.makeManifest(); err != nil {
		return nil, err
	}
	core.open = func(b blob) (io.ReadCloser, error) {
		return nil, fmt.Errorf("layer %.12s was to be sent before its manifest", b.layer)
	}
	return partial.CompressedToImage(core)
}

// GzLayer is one layer of the store, its tar gzipped as it is read. Its
// digest and size are those recorded (known), else unknown until its
// blob has been read to the end (go-containerregistry's pusher streams
// such a layer, then asks).
type GzLayer struct {
	ctx    context.Context
	tar    func(io.Writer) error // writes the layer's tar
	layer  string
	diffID v1.Hash
	mt     types.MediaType
	rec    *gzipRecord
	out    io.Writer
	n, of  int // its place among the image's layers, to say so

	mu     sync.Mutex
	digest v1.Hash
	size   int64
	known  bool  // digest and size are set
	failed error // why its blob was cut short, other than its reader's close
	// recorded: digest and size came from the record, and the upload
	// declares that size.
	recorded bool
}

func (l *GzLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *GzLayer) MediaType() (types.MediaType, error) { return l.mt, nil }

func (l *GzLayer) Digest() (v1.Hash, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.known {
		return v1.Hash{}, stream.ErrNotComputed
	}
	return l.digest, nil
}

func (l *GzLayer) Size() (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.known {
		return 0, stream.ErrNotComputed
	}
	return l.size, nil
}

// Uncompressed is the layer's tar as the store rebuilds it (a push never
// reads it).
func (l *GzLayer) Uncompressed() (io.ReadCloser, error) { return piped(l.tar), nil }

// Compressed gzips the layer's tar on a goroutine of its own as it is
// read. The read that would end it fails instead when the tar is not the
// one the config names, or its gzip not the one recorded: the registry
// then gets an upload that is never committed.
func (l *GzLayer) Compressed() (io.ReadCloser, error) {
	if l.out != nil {
		fmt.Fprintf(l.out, "Copying blob of layer %d of %d (%.12s)\n", l.n, l.of, l.diffID.Hex)
	}
	return piped(l.send), nil
}

// send writes the layer's gzip to w; nil when it is whole and checked.
//
// A recorded gzip is sent unsummed, neither its tar nor itself: the
// gzip's bytes depend only on the tar's, so a gzip of the recorded digest
// is the tar whose diffID was checked when the record was made, and the
// registry checks that digest on what it got (DIGEST_INVALID otherwise:
// Upload.Refused drops the record). Two sha256 passes over every byte are
// most of a push's CPU after the gzip's own.
func (l *GzLayer) send(w io.Writer) error {
	b, err := gzipWith(w, true, !l.recorded, l.tar)
	switch {
	case errors.Is(err, io.ErrClosedPipe):
		// The reader is gone: the upload failed, or, with a recorded size
		// that this gzip overruns, stopped reading at that size. The next
		// push learns the digest again rather than repeat the second.
		if l.recorded {
			l.rec.drop(l.diffID)
		}
		return err
	case err == nil:
		err = l.finish(b)
	case l.ctx.Err() != nil:
		err = l.ctx.Err()
	}
	l.mu.Lock()
	l.failed = err
	l.mu.Unlock()
	return err
}

// finish checks what was sent, and records or learns its digest.
func (l *GzLayer) finish(b blob) error {
	if l.recorded {
		if b.size != l.size {
			l.rec.drop(l.diffID)
			return fmt.Errorf("layer %.12s gzips to %d bytes, not %d as recorded: the record is removed: push again", l.layer, b.size, l.size)
		}
		return nil
	}
	if b.diffID != l.diffID {
		return fmt.Errorf("layer %.12s reads back as %s, not %s as the image's config says: the store is damaged: pull the image again", l.layer, b.diffID, l.diffID)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.known && (b.digest != l.digest || b.size != l.size) {
		// Sent again (an upload retried) and not as the first time: the
		// record that sending made is of no use.
		l.rec.drop(l.diffID)
		return fmt.Errorf("layer %.12s gzips to %s, not to %s as recorded: the record is removed: push again", l.layer, b.digest, l.digest)
	}
	if !l.known {
		l.digest, l.size, l.known = b.digest, b.size, true
		l.rec.put(l.diffID, b.digest, b.size)
	}
	return nil
}

// piped is what write writes, written on a goroutine of its own as it is
// read; its end is write's error (nil: EOF).
func piped(write func(io.Writer) error) io.ReadCloser {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(write(pw))
	}()
	return &pipeReader{pr, done}
}

// pipeReader is a stream written on a goroutine; Close stops the writing
// and waits until it has ended (and the store's files are closed).
type pipeReader struct {
	*io.PipeReader
	done chan struct{}
}

func (r *pipeReader) Close() error {
	r.PipeReader.Close()
	<-r.done
	return nil
}
