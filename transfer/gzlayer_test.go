package transfer

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/stream"
)

// testLayer is a GzLayer over the tar content, its record in dir.
func testLayer(t *testing.T, content []byte, diffID v1.Hash, rec *gzipRecord) *GzLayer {
	t.Helper()
	l := &GzLayer{ctx: context.Background(), layer: "0123456789abcdef", diffID: diffID, rec: rec, n: 1, of: 1}
	l.tar = func(w io.Writer) error {
		_, err := io.Copy(w, bytes.NewReader(content))
		return err
	}
	l.digest, l.size, l.known = rec.get(diffID)
	l.recorded = l.known
	return l
}

func randomTar(t *testing.T, n int) ([]byte, v1.Hash) {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b, hashOf(sum(string(b)))
}

// A layer sent without a record has no digest until its blob is read
// whole; then the digest is the blob's, the blob gunzips to the tar, and
// the record gives the same digest to the next push.
func TestGzLayerLearnsDigest(t *testing.T) {
	rec := &gzipRecord{dir: t.TempDir()}
	content, diffID := randomTar(t, 3<<20)
	l := testLayer(t, content, diffID, rec)
	if _, err := l.Digest(); !errors.Is(err, stream.ErrNotComputed) {
		t.Fatalf("digest before the blob is read: want ErrNotComputed, got %v", err)
	}
	rc, err := l.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	blobBytes, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	d, err := l.Digest()
	if err != nil || d != hashOf(sum(string(blobBytes))) {
		t.Fatalf("digest after the blob: %v %v, want the blob's", d, err)
	}
	if size, _ := l.Size(); size != int64(len(blobBytes)) {
		t.Fatalf("size %d, blob %d", size, len(blobBytes))
	}
	zr, err := gzip.NewReader(bytes.NewReader(blobBytes))
	if err != nil {
		t.Fatal(err)
	}
	if back, err := io.ReadAll(zr); err != nil || !bytes.Equal(back, content) {
		t.Fatalf("the blob does not gunzip to the tar (%v)", err)
	}
	again := testLayer(t, content, diffID, rec)
	if d2, err := again.Digest(); err != nil || d2 != d {
		t.Fatalf("recorded digest %v %v, want %s", d2, err, d)
	}
	// The record is right: sending it again passes its check.
	rc, _ = again.Compressed()
	if _, err := io.Copy(io.Discard, rc); err != nil {
		t.Fatalf("a layer with a good record: %v", err)
	}
	rc.Close()
}

// A tar other than the config names, or a gzip other than recorded, fails
// the read that would end the blob (so the registry never commits it),
// and Failure says why; a stale record is removed.
func TestGzLayerChecks(t *testing.T) {
	content, diffID := randomTar(t, 1<<20)
	t.Run("tar", func(t *testing.T) {
		u := &Upload{layers: []*GzLayer{testLayer(t, content, hashOf(sum("another tar")), &gzipRecord{dir: t.TempDir()})}}
		rc, _ := u.layers[0].Compressed()
		_, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err == nil || !strings.Contains(err.Error(), "the store is damaged") || u.Failure() == nil {
			t.Fatalf("want the read to fail naming the damage, got %v (failure %v)", err, u.Failure())
		}
	})
	t.Run("record", func(t *testing.T) {
		rec := &gzipRecord{dir: t.TempDir()}
		rec.put(diffID, hashOf(sum("not the gzip")), 1234)
		l := testLayer(t, content, diffID, rec)
		if !l.known {
			t.Fatal("the record was not read")
		}
		rc, _ := l.Compressed()
		_, err := io.Copy(io.Discard, rc)
		rc.Close()
		if err == nil || !strings.Contains(err.Error(), "push again") {
			t.Fatalf("want the stale record named, got %v", err)
		}
		if _, _, ok := rec.get(diffID); ok {
			t.Fatal("the stale record stayed")
		}
	})
}

// An upload that declares a recorded size shorter than the gzip stops
// reading there: the record goes, so that the next push learns the
// digest again.
func TestGzLayerShortRecord(t *testing.T) {
	content, diffID := randomTar(t, 1<<20)
	rec := &gzipRecord{dir: t.TempDir()}
	rec.put(diffID, hashOf(sum("not the gzip")), 1000)
	l := testLayer(t, content, diffID, rec)
	rc, _ := l.Compressed()
	if _, err := io.ReadFull(rc, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	rc.Close()
	if _, _, ok := rec.get(diffID); ok {
		t.Fatal("the record of a gzip longer than recorded stayed")
	}
}

// Closing the blob half read ends the gzip (the tar's writer gets an
// error) and is no failure of the layer.
func TestGzLayerClose(t *testing.T) {
	content, diffID := randomTar(t, 8<<20)
	u := &Upload{layers: []*GzLayer{testLayer(t, content, diffID, &gzipRecord{dir: t.TempDir()})}}
	rc, _ := u.layers[0].Compressed()
	if _, err := io.ReadFull(rc, make([]byte, 1000)); err != nil {
		t.Fatal(err)
	}
	rc.Close() // waits for the writer to end
	if err := u.Failure(); err != nil {
		t.Fatalf("a closed blob counted as a failure: %v", err)
	}
	if _, err := u.layers[0].Digest(); err == nil {
		t.Fatal("a blob read in part has a digest")
	}
}
