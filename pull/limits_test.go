package pull

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// hostile serves /v2/ and one bad manifest per repository.
func hostile(t *testing.T) *httptest.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/v2/", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/v2/loop/manifests/latest", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Path, http.StatusFound)
	})
	mux.HandleFunc("/v2/stall/manifests/latest", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w.WriteHeader(http.StatusOK)
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	mux.HandleFunc("/v2/huge/manifests/latest", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
		w.Header().Set("Content-Length", "8388608")
		w.WriteHeader(http.StatusOK)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func getManifest(t *testing.T, srv *httptest.Server, repo string) error {
	t.Helper()
	host := strings.TrimPrefix(srv.URL, "http://")
	ref, err := name.ParseReference(host+"/"+repo+":latest", name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	rt := &plainHTTPPolicy{next: &bounded{next: http.DefaultTransport, idle: 300 * time.Millisecond}}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = remote.Get(ref, remote.WithContext(ctx), remote.WithTransport(rt))
	if ctx.Err() != nil {
		t.Fatalf("%s: the bound did not end the request: %v", repo, err)
	}
	return err
}

func TestBoundedRegistry(t *testing.T) {
	srv := hostile(t)
	if err := getManifest(t, srv, "loop"); err == nil || !strings.Contains(err.Error(), "redirected") {
		t.Errorf("a manifest redirecting to itself: want the loop refused: %v", err)
	}
	if err := getManifest(t, srv, "stall"); !errors.As(err, new(*StallError)) {
		t.Errorf("a registry that stalls after its headers: want a StallError: %v", err)
	}
	if err := getManifest(t, srv, "huge"); err == nil || !strings.Contains(err.Error(), "4 MiB") {
		t.Errorf("an 8 MiB manifest: want it refused by size: %v", err)
	}
}
