package integration

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/static"
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
	// The store is as it was: a good image pulls.
	e.pull(plain.Ref("busybox:latest"))
	wantOnlyImage(t, e, images.Busybox)
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

// A registry in the harness that lies about blobs: each repository is a
// real image (busybox and one layer of its own) whose layer blob the
// server mangles. A blob that redirects to itself, one cut short every
// time, one that is not a layer, one whose bytes are not its digest's and
// one missing: one line naming it, exit 125, quickly, no image. A blob
// redirected to another host (as registries hand blobs to object stores)
// is fetched there.
func TestHostileRegistryBlobs(t *testing.T) {
	other := httptest.NewServer(nil) // another host: serves what mux below gives it
	defer other.Close()
	type repo struct {
		manifest, config []byte
		layer            v1.Hash
		blobs            map[v1.Hash][]byte
	}
	repos := map[string]*repo{}
	for _, name := range []string{"blobloop", "crosshost", "truncated", "notlayer", "wrongdigest", "nolayer"} {
		base, err := BusyboxImage()
		if err != nil {
			t.Fatal(err)
		}
		var l v1.Layer
		if name == "notlayer" {
			l = static.NewLayer([]byte("not a tar, not gzip: "+name+randomHex(8)), types.DockerLayer)
		} else if l, err = TarLayer([]Entry{File("which", 0o644, 0, 0, name+randomHex(8)+"\n")}); err != nil {
			t.Fatal(err)
		}
		img, err := mutate.AppendLayers(base, l)
		if err != nil {
			t.Fatal(err)
		}
		r := &repo{blobs: map[v1.Hash][]byte{}}
		if r.manifest, err = img.RawManifest(); err != nil {
			t.Fatal(err)
		}
		if r.config, err = img.RawConfigFile(); err != nil {
			t.Fatal(err)
		}
		cd, _ := img.ConfigName()
		r.blobs[cd] = r.config
		layers, _ := img.Layers()
		for _, l := range layers {
			d, _ := l.Digest()
			rc, err := l.Compressed()
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			r.blobs[d] = b
			r.layer = d
		}
		repos[name] = r
	}
	serveBlob := func(w http.ResponseWriter, b []byte) {
		w.Header().Set("Content-Length", fmt.Sprint(len(b)))
		w.Write(b)
	}
	other.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d, err := v1.NewHash(r.URL.Query().Get("d"))
		if b, ok := repos["crosshost"].blobs[d]; err == nil && ok {
			serveBlob(w, b)
			return
		}
		http.NotFound(w, r)
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/v2/"), "/")
		if len(parts) != 3 || repos[parts[0]] == nil {
			if r.URL.Path == "/v2/" {
				return
			}
			http.NotFound(w, r)
			return
		}
		name, rp := parts[0], repos[parts[0]]
		if parts[1] == "manifests" {
			w.Header().Set("Content-Type", string(types.DockerManifestSchema2))
			w.Header().Set("Docker-Content-Digest", "sha256:"+sha256Hex(rp.manifest))
			w.Write(rp.manifest)
			return
		}
		d, err := v1.NewHash(parts[2])
		b, ok := rp.blobs[d]
		if err != nil || !ok {
			http.Error(w, `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}`, http.StatusNotFound)
			return
		}
		if d != rp.layer {
			serveBlob(w, b)
			return
		}
		switch name {
		case "blobloop":
			http.Redirect(w, r, r.URL.Path, http.StatusTemporaryRedirect)
		case "crosshost":
			http.Redirect(w, r, other.URL+"/store?d="+d.String(), http.StatusTemporaryRedirect)
		case "truncated":
			w.Header().Set("Content-Length", fmt.Sprint(len(b)))
			w.Write(b[:len(b)/2])
			// The handler's end with bytes owed cuts the connection.
		case "notlayer":
			serveBlob(w, b)
		case "wrongdigest":
			bad := append([]byte{}, b...)
			bad[len(bad)/2] ^= 0xff
			serveBlob(w, bad)
		case "nolayer":
			http.Error(w, `{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown"}]}`, http.StatusNotFound)
		}
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "http://")

	e := sandboxEnv(t, "")
	e.vars["HUSK_REGISTRY_TIMEOUT"] = "2"
	for _, c := range []struct{ repo, want string }{
		{"blobloop", "redirected"},
		{"truncated", repos["truncated"].layer.Hex[:12]},
		{"notlayer", repos["notlayer"].layer.Hex[:12]},
		{"wrongdigest", repos["wrongdigest"].layer.Hex[:12]},
		{"nolayer", "lacks the blob"},
	} {
		start := time.Now()
		e.wantFault(e.run("pull", host+"/"+c.repo), c.want)
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("pull %s took %s: the bound did not end it", c.repo, d)
		}
	}
	ref := host + "/crosshost:latest"
	e.pull(ref)
	if got := e.sbxOut([]string{"--rm"}, ref, "cat", "/which"); !strings.HasPrefix(got, "crosshost") {
		t.Errorf("the image whose blob came from another host: /which is %q", got)
	}
	e.noLeftovers()
}

func sha256Hex(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// Endless files and stdin that husk reads for itself are read up to a
// bound, then refused with one line (issue 19, item 7): a Dockerfile, a
// build secret, the auth file. Each ends quickly, with husk's memory
// untouched.
func TestEndlessInputsBounded(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	dir := e.buildCtx("ctx", map[string]string{"Dockerfile": "FROM " + ref + "\nRUN --mount=type=secret,id=s true\n"})
	zeroRun := func(args ...string) result {
		zero, err := os.Open("/dev/zero")
		if err != nil {
			t.Fatal(err)
		}
		defer zero.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := e.command(ctx, args...)
		var out, errb bytes.Buffer
		cmd.Stdin, cmd.Stdout, cmd.Stderr = zero, &out, &errb
		_ = cmd.Run()
		code := -1
		if cmd.ProcessState != nil {
			code = cmd.ProcessState.ExitCode()
		}
		return result{args: args, stdout: out.String(), stderr: errb.String(), code: code}
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"build", "-f", "/dev/zero", dir}, []string{"/dev/zero", "4 MiB"}},
		{[]string{"build", "-f", "-", dir}, []string{"stdin", "4 MiB"}},
		{[]string{"build", "--secret", "id=s,src=/dev/zero", dir}, []string{"/dev/zero", "500 KiB"}},
		{[]string{"pull", ref}, []string{"/dev/zero", "4 MiB"}}, // REGISTRY_AUTH_FILE=/dev/zero
	} {
		if c.args[0] == "pull" {
			e.vars["REGISTRY_AUTH_FILE"] = "/dev/zero"
		}
		start := time.Now()
		e.wantError(zeroRun(c.args...), c.want...)
		delete(e.vars, "REGISTRY_AUTH_FILE")
		if d := time.Since(start); d > 30*time.Second {
			t.Errorf("husk %s took %s: the bound did not end it", strings.Join(c.args, " "), d)
		}
	}
	if strings.Contains(e.out("images"), "<none>") {
		t.Errorf("a refused build left an image: %s", e.out("images"))
	}
	e.noLeftovers()
}
