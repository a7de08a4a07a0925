package integration

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/zstd"
)

// A registry in the harness that lies, for the bounds husk keeps whatever
// a registry sends: each case ends in one line, exit 125, quickly, and
// leaves nothing in the store.
func TestHostileRegistry(t *testing.T) {
	const ociManifest = "application/vnd.oci.image.manifest.v1+json"
	manifest := func(cfgSize int64) string {
		return fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%d},"layers":[]}`,
			ociManifest, strings.Repeat("ab", 32), cfgSize)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/v2/", func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/v2/":
		case "/v2/loop/manifests/latest":
			http.Redirect(w, r, r.URL.Path, http.StatusFound)
		case "/v2/stall/manifests/latest":
			w.Header().Set("Content-Type", ociManifest)
			w.WriteHeader(http.StatusOK)
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(time.Minute):
			}
		case "/v2/huge/manifests/latest":
			w.Header().Set("Content-Type", ociManifest)
			w.Header().Set("Content-Length", fmt.Sprint(64<<20))
			w.WriteHeader(http.StatusOK)
		case "/v2/bigconfig/manifests/latest":
			w.Header().Set("Content-Type", ociManifest)
			fmt.Fprint(w, manifest(256<<20))
		case "/v2/malformed/manifests/latest":
			w.Header().Set("Content-Type", ociManifest)
			fmt.Fprint(w, `{"schemaVersion":2,"mediaType":"`+ociManifest+`","config":`)
		case "/v2/cut/manifests/latest":
			w.Header().Set("Content-Type", ociManifest)
			w.Header().Set("Content-Length", "500")
			fmt.Fprint(w, `{"schemaVersion":2`)
		case "/v2/noblob/manifests/latest":
			w.Header().Set("Content-Type", ociManifest)
			fmt.Fprint(w, manifest(2))
		default:
			http.Error(w, `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}`, http.StatusNotFound)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	e := newEnv(t)
	e.vars["HUSK_REGISTRY_TIMEOUT"] = "1"
	for repo, want := range map[string]string{
		"loop":      "redirected",
		"stall":     "sent nothing for 1s",
		"huge":      "over husk's 4 MiB bound",
		"bigconfig": "over husk's 4 MiB bound",
		"noblob":    "lacks the blob",
		"malformed": "not a valid manifest",
		"cut":       "cut the manifest",
	} {
		start := time.Now()
		e.wantError(e.run("pull", host+"/"+repo), want)
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("pull %s took %s: the bound did not end it", repo, d)
		}
	}
	if out := strings.TrimSpace(e.ok("images", "-q").stdout); out != "" {
		t.Errorf("refused pulls left images: %q", out)
	}
}

// A layer whose files add up to far more than its blob (a sparse file, or
// a bomb of zeros that zstd squeezes 30,000 to 1) is refused at its
// header, before the file is written (issue 19, item 1).
func TestLayerExpansionBounded(t *testing.T) {
	var tarBuf bytes.Buffer
	if err := writeTar(&tarBuf, []Entry{Generated("zeros", 64<<20, Zeros(64<<20))}); err != nil {
		t.Fatal(err)
	}
	var blob bytes.Buffer
	zw, err := zstd.NewWriter(&blob, zstd.WithEncoderLevel(zstd.SpeedBestCompression))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := zw.Write(tarBuf.Bytes()); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	data := blob.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil },
		tarball.WithMediaType(types.OCILayerZStd))
	if err != nil {
		t.Fatal(err)
	}
	img, err := NewImage("amd64", v1.Config{Cmd: []string{"true"}}, layer)
	if err != nil {
		t.Fatal(err)
	}
	repo := "bomb-" + randomHex(4) + ":latest"
	if err := plain.Push(repo, img); err != nil {
		t.Fatal(err)
	}
	e := newEnv(t)
	e.vars["HUSK_LAYER_EXPANSION"] = "16" // MiB: the 64 MiB file is over it, and over 2000 times its blob
	e.wantError(e.run("pull", plain.Ref(repo)), "HUSK_LAYER_EXPANSION")
	if out := strings.TrimSpace(e.ok("images", "-q").stdout); out != "" {
		t.Errorf("a refused pull left images: %q", out)
	}
	// The same layer within the limit is pulled whole.
	e.vars["HUSK_LAYER_EXPANSION"] = "128"
	e.ok("pull", plain.Ref(repo))
}

// An image with more layers than one overlay mount's options hold pulls,
// and its run is refused with the fix, not a bare "No such file or
// directory" from the mount; nothing of the run is left.
func TestTooManyLayersForOverlay(t *testing.T) {
	base, err := BusyboxImage()
	if err != nil {
		t.Fatal(err)
	}
	img := base
	for i := 0; i < 120; i++ {
		l, err := TarLayer([]Entry{File(fmt.Sprintf("f%03d", i), 0o644, 0, 0, "x")})
		if err != nil {
			t.Fatal(err)
		}
		if img, err = mutate.AppendLayers(img, l); err != nil {
			t.Fatal(err)
		}
	}
	repo := "layers120-" + randomHex(4) + ":latest"
	if err := plain.Push(repo, img); err != nil {
		t.Fatal(err)
	}
	e := sandboxEnv(t, "overlay")
	e.pull(plain.Ref(repo), "--storage-driver", "overlay")
	e.wantError(e.run("run", "--rm", plain.Ref(repo), "true"), "121 layers", "flatten", "vfs")
	if out := e.out("ps", "-aq"); out != "" {
		t.Errorf("a refused run left a container: %q", out)
	}
	e.noLeftovers()
}
