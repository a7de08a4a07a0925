// Package transfer moves images between husk's store and the forms
// go-containerregistry writes and reads: an image of the store as a
// v1.Image (for push and save), and archives and OCI layouts to load.
package transfer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
	digest "github.com/opencontainers/go-digest"
	storage "go.podman.io/storage"
	"go.podman.io/storage/pkg/archive"
	"golang.org/x/sync/errgroup"

	"husk/store"
)

// Form is how an exported image's layers and manifest look.
type Form struct {
	OCI      bool // OCI media types, else Docker's schema 2
	Compress bool // gzip the layers (a registry), else plain tar (an archive)
}

// Exported is an image of the store as a v1.Image. Its layers are files
// in a work directory until Close.
type Exported struct {
	v1.Image
	dir  string
	stop func() // ends the reading of layers ahead (streamTars)
}

// Close removes the layers' files, or stops the reading ahead of them.
func (e *Exported) Close() {
	if e.stop != nil {
		e.stop()
	}
	if e.dir != "" {
		os.RemoveAll(e.dir)
	}
}

// Export makes img a v1.Image of the given form: the config as stored (so
// the image keeps its ID), each layer's tar rebuilt by the store and, with
// Compress, gzipped, all layers at once. Gzip at one block size is
// deterministic: the same image exports to the same digests every time.
func Export(ctx context.Context, s *store.Store, img *storage.Image, f Form) (*Exported, error) {
	cfg, err := s.Config(img)
	if err != nil {
		return nil, err
	}
	ids, err := layerChain(s, img)
	if err != nil {
		return nil, err
	}
	dir, err := s.TempDir("export-")
	if err != nil {
		return nil, fmt.Errorf("creating a work directory in %s: %w", s.GraphRoot(), err)
	}
	layers := make([]blob, len(ids))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(2, runtime.NumCPU()))
	for i, id := range ids {
		g.Go(func() error {
			var err error
			layers[i], err = writeLayer(gctx, s, id, filepath.Join(dir, fmt.Sprintf("layer-%d", i)), f.Compress)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := checkDiffIDs(cfg, layers, img.ID); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	core := &exportCore{config: cfg, layers: layers, form: f}
	if core.manifest, err = core.makeManifest(); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	v, err := partial.CompressedToImage(core)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return &Exported{Image: v, dir: dir}, nil
}

// checkDiffIDs: the tars the store rebuilt must be the ones the config
// names, or the exported image would not verify anywhere.
func checkDiffIDs(raw []byte, layers []blob, id string) error {
	diffIDs, err := configDiffIDs(raw, id)
	if err != nil {
		return err
	}
	if len(diffIDs) != len(layers) {
		return fmt.Errorf("image %.12s has %d layers but its config names %d: pull the image again", id, len(layers), len(diffIDs))
	}
	for i, d := range diffIDs {
		if layers[i].diffID != d {
			return fmt.Errorf("layer %d of image %.12s reads back as %s, not %s as its config says: the store is damaged: pull the image again", i, id, layers[i].diffID, d)
		}
	}
	return nil
}

// configDiffIDs are the digests of the layers' tars that the config raw
// of image id names.
func configDiffIDs(raw []byte, id string) ([]v1.Hash, error) {
	cfg, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing the config of image %.12s: %w: pull the image again", id, err)
	}
	return cfg.RootFS.DiffIDs, nil
}

// layerChain is the image's layers, the bottom one first.
func layerChain(s *store.Store, img *storage.Image) ([]string, error) {
	var ids []string
	for id := img.TopLayer; id != ""; {
		l, err := s.Layer(id)
		if err != nil {
			return nil, fmt.Errorf("reading layer %.12s of image %.12s: %w: pull the image again", id, img.ID, err)
		}
		ids = append([]string{id}, ids...)
		id = l.Parent
	}
	return ids, nil
}

// blob is one layer written to a file: its digest and size as a blob, and
// the digest of its tar.
type blob struct {
	path   string // "" when read from the store as it is written
	layer  string
	digest v1.Hash
	size   int64
	diffID v1.Hash
}

// writeLayer writes layer id's tar (gzipped with compress) to path.
func writeLayer(ctx context.Context, s *store.Store, id, path string, compress bool) (blob, error) {
	rc, err := openDiff(s, id)
	if err != nil {
		return blob{}, err
	}
	defer rc.Close()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return blob{}, fmt.Errorf("writing layer %.12s: %w", id, err)
	}
	defer f.Close()
	b, err := gzipTar(ctx, rc, f, compress)
	if err != nil {
		return blob{}, fmt.Errorf("writing layer %.12s to %s: %w", id, path, store.AnnotateDisk(err, filepath.Dir(path)))
	}
	b.path, b.layer = path, id
	return b, nil
}

// openDiff reads layer id's tar from the store, rebuilt from its files.
func openDiff(s *store.Store, id string) (io.ReadCloser, error) {
	plain := archive.Uncompressed
	rc, err := s.Diff("", id, &storage.DiffOptions{Compression: &plain})
	if err != nil {
		return nil, fmt.Errorf("reading layer %.12s: %w", id, err)
	}
	return rc, nil
}

// gzipTar copies the tar tr to w, gzipped with compress, and says what
// passed.
func gzipTar(ctx context.Context, tr io.Reader, w io.Writer, compress bool) (blob, error) {
	return gzipWith(w, compress, true, func(g io.Writer) error {
		_, err := io.CopyBuffer(g, ctxReader{ctx, tr}, make([]byte, 256<<10))
		return err
	})
}

// gzipWith passes what write writes on to w, gzipped with compress, and
// says what passed: its size, and with sum the digests of both sides. The
// gzip is closed after a failed write too, which ends its goroutines.
func gzipWith(w io.Writer, compress, sum bool, write func(io.Writer) error) (blob, error) {
	g := newGzipSink(w, compress, sum)
	err := write(g)
	b, cerr := g.Close()
	if err == nil {
		err = cerr
	}
	return b, err
}

// gzipSink writes the tar written to it on to w, gzipped with compress,
// counting what w got and, with sums, summing both sides.
type gzipSink struct {
	tarSum hash.Hash    // nil: not summed
	cw     *countWriter // what w got
	sum    hash.Hash    // of what w got; nil: not summed
	zw     *blockGzip
	in     io.Writer
}

func newGzipSink(w io.Writer, compress, sums bool) *gzipSink {
	g := &gzipSink{cw: &countWriter{w: w}}
	g.in = g.cw
	if sums {
		g.tarSum, g.sum = sha256.New(), sha256.New()
		g.cw.w = io.MultiWriter(w, g.sum)
		g.in = io.MultiWriter(g.tarSum, g.cw)
	}
	if compress {
		// The gzip sums the tar off the writer's path.
		g.zw = newBlockGzip(g.cw, g.tarSum)
		g.in = g.zw
	}
	return g
}

func (g *gzipSink) Write(p []byte) (int, error) { return g.in.Write(p) }

// Close ends the gzip and says what passed: the size of what w got and,
// when summed, its digest and the tar's.
func (g *gzipSink) Close() (blob, error) {
	if g.zw != nil {
		if err := g.zw.Close(); err != nil {
			return blob{}, err
		}
	}
	b := blob{size: g.cw.n}
	if g.sum != nil {
		b.digest, b.diffID = hashOf(g.sum.Sum(nil)), hashOf(g.tarSum.Sum(nil))
	}
	return b, nil
}

func hashOf(sum []byte) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", sum)}
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// WithContext is r that stops a long copy or extraction soon after Ctrl-C.
func WithContext(ctx context.Context, r io.Reader) io.Reader { return ctxReader{ctx, r} }

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// exportCore is what partial.CompressedToImage needs.
type exportCore struct {
	config   []byte
	layers   []blob
	form     Form
	manifest []byte
	open     func(blob) (io.ReadCloser, error) // nil: the blobs are files
}

func (c *exportCore) MediaType() (types.MediaType, error) {
	if c.form.OCI {
		return types.OCIManifestSchema1, nil
	}
	return types.DockerManifestSchema2, nil
}

func (c *exportCore) RawConfigFile() ([]byte, error) { return c.config, nil }
func (c *exportCore) RawManifest() ([]byte, error)   { return c.manifest, nil }

func (c *exportCore) layerType() types.MediaType {
	switch {
	case c.form.OCI && c.form.Compress:
		return types.OCILayer
	case c.form.OCI:
		return types.OCIUncompressedLayer
	case c.form.Compress:
		return types.DockerLayer
	}
	return types.DockerUncompressedLayer
}

func (c *exportCore) configType() types.MediaType {
	if c.form.OCI {
		return types.OCIConfigJSON
	}
	return types.DockerConfigJSON
}

func (c *exportCore) makeManifest() ([]byte, error) {
	mt, _ := c.MediaType()
	m := v1.Manifest{SchemaVersion: 2, MediaType: mt, Config: v1.Descriptor{
		MediaType: c.configType(), Size: int64(len(c.config)),
		Digest: v1.Hash{Algorithm: "sha256", Hex: digest.FromBytes(c.config).Encoded()},
	}}
	m.Layers = []v1.Descriptor{}
	for _, l := range c.layers {
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: c.layerType(), Size: l.size, Digest: l.digest})
	}
	return json.Marshal(m)
}

func (c *exportCore) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	for _, l := range c.layers {
		if l.digest == h {
			return &fileLayer{b: l, mt: c.layerType(), open: c.open}, nil
		}
	}
	return nil, fmt.Errorf("the image has no layer %s", h)
}

// fileLayer is one exported layer: its file, or its tar in the store.
type fileLayer struct {
	b    blob
	mt   types.MediaType
	open func(blob) (io.ReadCloser, error)
}

func (l *fileLayer) Digest() (v1.Hash, error)            { return l.b.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)            { return l.b.diffID, nil }
func (l *fileLayer) Size() (int64, error)                { return l.b.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error) { return l.mt, nil }

func (l *fileLayer) Compressed() (io.ReadCloser, error) {
	if l.open != nil {
		return l.open(l.b)
	}
	return os.Open(l.b.path)
}
