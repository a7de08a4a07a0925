package pull

import (
	"context"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	storage "go.podman.io/storage"

	"husk/store"
)

// A re-tagged image whose only name on the registry is the one pushed is
// reused only where that repository holds its manifest: one question, and
// nothing sent, where it does not (its first push there), and not asked
// again in the same push.
func TestReuseOwnRepositoryNeedsManifest(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	var mu sync.Mutex
	var asked []string
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.Method+" "+r.URL.Path)
		mu.Unlock()
		reg.ServeHTTP(w, r)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	img, err := random.Image(1024, 2)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := img.RawManifest()
	cfg, _ := img.RawConfigFile()
	id, _ := img.ConfigName()
	target := host + "/retagged/x:1"
	si := &store.StoredImage{Image: storage.Image{ID: id.Hex, Names: []string{"localhost/x:1", target}}, Manifest: raw, Config: cfg}
	ref, err := name.ParseReference(target)
	if err != nil {
		t.Fatal(err)
	}

	sess, err := newSession(context.Background(), ref, si.Names, true)
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	asked = nil
	mu.Unlock()
	if sess.reuse(si, false) != nil {
		t.Fatal("reused from a repository that lacks the image")
	}
	mu.Lock()
	if len(asked) != 1 || !strings.HasPrefix(asked[0], "HEAD ") || !strings.Contains(asked[0], "/manifests/") {
		t.Errorf("asked %q; want the one HEAD of the manifest", asked)
	}
	mu.Unlock()

	// The same push (PushCmd's question, then Push's) asks nothing more:
	// the same session, and its answer.
	again, err := newSession(context.Background(), ref, si.Names, true)
	if err != nil || again != sess {
		t.Fatalf("the push's second session: %p, %v; want the first, %p", again, err, sess)
	}
	mu.Lock()
	asked = nil
	mu.Unlock()
	if again.reuse(si, true) != nil {
		t.Fatal("reused, asked again, from a repository that lacks the image")
	}
	mu.Lock()
	if len(asked) != 0 {
		t.Errorf("asked again: %q", asked)
	}
	mu.Unlock()

	// A later push, once the repository holds the image, reuses it.
	if err := remote.Write(ref, img); err != nil {
		t.Fatal(err)
	}
	later, err := dialSession(context.Background(), ref, si.Names, true)
	if err != nil {
		t.Fatal(err)
	}
	if later.reuse(si, false) == nil {
		t.Fatal("not reused from the repository that holds the image")
	}
}
