package integration

import (
	"net/http"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestHarness checks, without husk, that both registries serve every image
// the harness pushed, byte for byte.
func TestHarness(t *testing.T) {
	want := map[string]v1.Image{"busybox:latest": images.Busybox, "layers:latest": images.Layers}
	for n, img := range images.Escapes {
		want[n+":latest"] = img
	}
	for _, r := range []*Registry{plain, secure} {
		for repo, img := range want {
			desc, err := r.Get(repo)
			if err != nil {
				t.Errorf("%s: %v", r.Ref(repo), err)
				continue
			}
			if d, _ := img.Digest(); desc.Digest != d {
				t.Errorf("%s: serves %s, pushed %s", r.Ref(repo), desc.Digest, d)
			}
		}
		desc, err := r.Get("multiarch:latest")
		if err != nil {
			t.Fatalf("%s: %v", r.Ref("multiarch:latest"), err)
		}
		idx, err := desc.ImageIndex()
		if err != nil {
			t.Fatal(err)
		}
		im, err := idx.IndexManifest()
		if err != nil {
			t.Fatal(err)
		}
		if len(im.Manifests) != 2 || im.Manifests[0].Platform.Architecture != "amd64" || im.Manifests[1].Platform.Architecture != "arm64" {
			t.Errorf("%s: want amd64 and arm64 entries: %+v", r.Ref("multiarch:latest"), im.Manifests)
		}
	}

	// A layer blob of the layers image downloads and verifies.
	ref, _ := plain.Parse("layers:latest")
	img, err := remote.Image(ref, plain.Options()...)
	if err != nil {
		t.Fatal(err)
	}
	layers, _ := img.Layers()
	if len(layers) != 3 {
		t.Fatalf("layers image: %d layers, want 3", len(layers))
	}

	// The TLS registry wants credentials and our CA.
	resp, err := http.Get(plain.URL() + "/v2/")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("plain registry /v2/: %v %v", resp, err)
	}
	anon, _ := name.ParseReference(secure.Ref("busybox:latest"))
	if _, err := remote.Get(anon, remote.WithTransport(secure.Transport())); err == nil {
		t.Errorf("TLS registry served an anonymous client")
	}
	if _, err := remote.Get(anon); err == nil {
		t.Errorf("TLS registry was trusted without the harness CA")
	}
	t.Logf("user %s uid %d subuid=%v; full-disk tmpfs %q", me.Name, me.UID, me.Subuid, fullDisk)
}
