package integration

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
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
