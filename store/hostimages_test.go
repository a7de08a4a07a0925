package store

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	digest "github.com/opencontainers/go-digest"
	storage "go.podman.io/storage"
	"go.podman.io/storage/types"
)

// What containers/storage wrote, ImagesOnHost reads back without it: the
// records, the manifest and the config (whose key is stored under another
// file name), and the store opens after it in the same process; a forced
// other driver or read-only stores send the reader to the store itself.
func TestImagesOnHostReadsWhatStorageWrote(t *testing.T) {
	root := t.TempDir()
	t.Setenv("HUSK_ROOT", root)
	t.Setenv("XDG_RUNTIME_DIR", t.TempDir())
	t.Setenv(EnvImageStores, "")
	graphroot := filepath.Join(root, "storage")
	s, err := storage.GetStore(types.StoreOptions{
		RunRoot: filepath.Join(root, "run"), GraphRoot: graphroot, GraphDriverName: "vfs",
		GraphDriverOptions: []string{"vfs.ignore_chown_errors=true"},
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := []byte(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}`)
	sum := sha256.Sum256(cfg)
	id := hex.EncodeToString(sum[:])
	manifest := []byte(`{"schemaVersion":2}`)
	if _, err := s.CreateImage(id, []string{"127.0.0.1:5000/a:1", "127.0.0.1:5000/b:2"}, "", "", nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateImage(hex.EncodeToString(make([]byte, 32)), []string{"127.0.0.1:5000/other:1"}, "", "", nil); err != nil {
		t.Fatal(err)
	}
	for key, data := range map[string][]byte{ManifestKey: manifest, ConfigKey(id): cfg} {
		if err := s.SetImageBigData(id, key, data, func(b []byte) (digest.Digest, error) { return digest.FromBytes(b), nil }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Shutdown(true); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "strategy"), []byte("vfs\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	a := func(img *storage.Image) bool { return img.ID == id }
	got, err := ImagesOnHost("", a)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != id || len(got[0].Names) != 2 {
		t.Fatalf("want the one image %s with its two names: %+v", id, got)
	}
	if !bytes.Equal(got[0].Manifest, manifest) || !bytes.Equal(got[0].Config, cfg) {
		t.Errorf("manifest %q config %q: want what was stored", got[0].Manifest, got[0].Config)
	}
	// As real root the store is opened in the same process after it.
	s, err = storage.GetStore(types.StoreOptions{RunRoot: filepath.Join(root, "run"), GraphRoot: graphroot, GraphDriverName: "vfs"})
	if err != nil {
		t.Fatalf("opening the store after reading it on the host: %v", err)
	}
	if imgs, err := s.Images(); err != nil || len(imgs) != 2 {
		t.Errorf("the store after reading it on the host: %d images, %v", len(imgs), err)
	}
	if _, err := s.Shutdown(true); err != nil {
		t.Fatal(err)
	}
	if got, err := ImagesOnHost("vfs", a); err != nil || len(got) != 1 {
		t.Errorf("the recorded driver forced: %v %v", got, err)
	}
	if _, err := ImagesOnHost("overlay", a); err == nil {
		t.Error("another driver forced: want the store opened instead")
	}
	t.Setenv(EnvImageStores, root)
	if _, err := ImagesOnHost("", a); err == nil {
		t.Error("with read-only stores: want the store opened instead")
	}
}
