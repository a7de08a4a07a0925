package build

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	digest "github.com/opencontainers/go-digest"

	"husk/store"
)

// isGitURL is a source BuildKit would clone: husk does not.
func isGitURL(s string) bool {
	if strings.HasPrefix(s, "git@") || strings.HasPrefix(s, "git://") {
		return true
	}
	u, _, _ := strings.Cut(s, "#")
	return isHTTP(s) && strings.HasSuffix(u, ".git")
}

func isHTTP(s string) bool {
	return strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://")
}

// addURLs is ADD of http(s) sources: each is fetched on every build, as
// Docker does, and its content (not its headers) keys the cache. The file
// is named after the URL's last path element, mode 0600 unless --chmod,
// and never extracted.
func (st *stage) addURLs(c *instructions.AddCommand, n, total int) error {
	// The sources and destination expand as COPY's do (dispatch expanded
	// the flags).
	if err := c.ExpandRaw(func(w string) (string, error) { return st.b.expand(w, st.env()) }); err != nil {
		return err
	}
	_, _, runroot, err := store.Paths()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(runroot, ".add-*")
	if err != nil {
		return fmt.Errorf("ADD: a download directory in %s: %w", runroot, err)
	}
	defer os.RemoveAll(tmp)
	var names, extra []string
	for _, src := range c.SourcePaths {
		name, sum, err := st.b.download(src, tmp, c.Checksum)
		if err != nil {
			return err
		}
		names, extra = append(names, name), append(extra, sum)
	}
	chmod := c.Chmod
	if chmod == "" {
		chmod = "0600"
	}
	dest := st.workdir(c.DestPath)
	spec := &copySpec{from: &Context{Dir: tmp}, srcs: names, dest: dest, destDir: isDirPath(c.DestPath) || dest == "/", chown: c.Chown, chmod: chmod}
	return st.layerStep(c, n, total, fmt.Sprint(c)+" # buildkit", extra, true, spec.apply)
}

// download fetches one URL into dir and checks --checksum; it returns the
// file's name and the sha256 of its content.
func (b *builder) download(src, dir, checksum string) (string, string, error) {
	u, err := url.Parse(src)
	if err != nil {
		return "", "", fmt.Errorf("ADD %s: %w: fix the URL", src, err)
	}
	name := path.Base(u.Path)
	if name == "/" || name == "." || name == "" {
		name = "index.html"
	}
	req, err := http.NewRequestWithContext(b.ctx, http.MethodGet, src, nil)
	if err != nil {
		return "", "", fmt.Errorf("ADD %s: %w: fix the URL", src, err)
	}
	client := &http.Client{Timeout: 10 * time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		return "", "", fmt.Errorf("ADD %s: %w: check the URL and the network", src, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("ADD %s: the server answered %s: fix the URL", src, resp.Status)
	}
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", "", fmt.Errorf("ADD %s: two sources named %s, or %w: give them distinct names", src, name, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(io.MultiWriter(f, h), resp.Body); err != nil {
		return "", "", fmt.Errorf("ADD %s: downloading: %w", src, err)
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if checksum != "" {
		want, err := digest.Parse(checksum)
		if err != nil || want.Algorithm() != digest.SHA256 {
			return "", "", fmt.Errorf("ADD --checksum=%s: give sha256:HEX", checksum)
		}
		if want.Encoded() != sum {
			return "", "", fmt.Errorf("ADD %s: the content's checksum is sha256:%s, not %s: fix --checksum or the URL", src, sum, checksum)
		}
	}
	return name, sum, nil
}
