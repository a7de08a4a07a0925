package integration

import (
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
)

// A registry that stalls or drops the connection halfway through a layer
// blob: the pull asks for the rest with a Range request and completes,
// and the image runs; a registry that stalls every time fails the pull
// with one line naming it and the blob, and leaves no image (issue 19,
// item 3).
func TestPullResumesBlob(t *testing.T) {
	img := resumeImage(t)
	blobs := map[string][]byte{}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	layerDigests := map[string]bool{}
	for _, l := range layers {
		d, _ := l.Digest()
		layerDigests[d.String()] = true
		rc, err := l.Compressed()
		if err != nil {
			t.Fatal(err)
		}
		blobs[d.String()], err = io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	cfgName, _ := img.ConfigName()
	blobs[cfgName.String()], _ = img.RawConfigFile()
	manifest, _ := img.RawManifest()
	mt, _ := img.MediaType()

	// Each repository is the same image served a different way:
	//  stall:   a layer's first GET stalls halfway; a Range answers 206
	//  cut:     a layer's first GET is cut halfway; a Range answers 206
	//  norange: a layer's first GET stalls halfway; Range is ignored and
	//           the next GET sends the whole blob with 200
	//  dead:    every GET of a layer stalls halfway, Range ignored
	var mu sync.Mutex
	gets := map[string]int{}
	mux := http.NewServeMux()
	mux.HandleFunc("/v2/", func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v2/"), "/")
		if len(parts) != 3 {
			return // /v2/: the API is here
		}
		repo, kind, ref := parts[0], parts[1], parts[2]
		if kind == "manifests" {
			w.Header().Set("Content-Type", string(mt))
			w.Write(manifest)
			return
		}
		blob, ok := blobs[ref]
		if !ok {
			http.Error(w, `{"errors":[{"code":"BLOB_UNKNOWN"}]}`, http.StatusNotFound)
			return
		}
		if !layerDigests[ref] {
			w.Write(blob)
			return
		}
		mu.Lock()
		gets[repo+ref]++
		n := gets[repo+ref]
		mu.Unlock()
		if rg := r.Header.Get("Range"); rg != "" && (repo == "stall" || repo == "cut") {
			from, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
			if err != nil || from >= len(blob) {
				http.Error(w, "bad range", http.StatusRequestedRangeNotSatisfiable)
				return
			}
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", from, len(blob)-1, len(blob)))
			w.Header().Set("Content-Length", strconv.Itoa(len(blob)-from))
			w.WriteHeader(http.StatusPartialContent)
			w.Write(blob[from:])
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(blob)))
		if n > 1 && repo != "dead" {
			w.Write(blob)
			return
		}
		w.Write(blob[:len(blob)/2])
		w.(http.Flusher).Flush()
		if repo == "cut" {
			panic(http.ErrAbortHandler) // drops the connection
		}
		select {
		case <-r.Context().Done():
		case <-time.After(time.Minute):
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	for _, repo := range []string{"stall", "cut", "norange"} {
		e := newEnv(t)
		e.vars["HUSK_REGISTRY_TIMEOUT"] = "1"
		ref := host + "/" + repo + ":latest"
		e.pull(ref)
		if got := e.out("run", "--rm", ref, "cat", "/resumed"); got != "whole" {
			t.Errorf("%s: the pulled image's /resumed says %q, want %q", repo, got, "whole")
		}
		mu.Lock()
		for d := range layerDigests {
			if gets[repo+d] < 2 {
				t.Errorf("%s: layer %s was asked for %d times: the registry's fault was not met", repo, d, gets[repo+d])
			}
		}
		mu.Unlock()
	}

	e := newEnv(t)
	e.vars["HUSK_REGISTRY_TIMEOUT"] = "1"
	start := time.Now()
	e.wantError(e.run("pull", host+"/dead:latest"), "sent nothing for 1s", host, "/blobs/sha256:")
	if d := time.Since(start); d > 60*time.Second {
		t.Errorf("the dead pull took %s: the retries did not end", d)
	}
	mu.Lock()
	for d := range layerDigests {
		if n := gets["dead"+d]; n > 4 {
			t.Errorf("dead: layer %s was asked for %d times, want at most 4 (3 retries)", d, n)
		}
	}
	mu.Unlock()
	if out := strings.TrimSpace(e.ok("images", "-q").stdout); out != "" {
		t.Errorf("a failed pull left images: %q", out)
	}
}

// resumeImage is busybox and a layer of incompressible bytes (so half its
// blob is half its content) with /resumed saying "whole".
func resumeImage(t *testing.T) v1.Image {
	t.Helper()
	base, err := BusyboxImage()
	if err != nil {
		t.Fatal(err)
	}
	noise := make([]byte, 512<<10)
	rand.Read(noise)
	l, err := TarLayer([]Entry{
		File("noise", 0o644, 0, 0, string(noise)),
		File("resumed", 0o644, 0, 0, "whole\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	img, err := mutate.AppendLayers(base, l)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
