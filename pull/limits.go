package pull

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// What a registry may make husk do, whatever it sends.
const (
	// maxRedirects is net/http's own limit, which go-containerregistry's
	// redirect check replaces with none: a blob that redirects to itself
	// looped forever.
	maxRedirects = 10
	// maxManifest bounds a manifest or index, as containers/image does; a
	// config is bounded by its descriptor's size (configLimit).
	maxManifest = 4 << 20
)

// idleTimeout is how long a registry may send nothing, before its headers
// or in the middle of a body: HUSK_REGISTRY_TIMEOUT seconds, else 30.
func idleTimeout() time.Duration {
	if s, err := strconv.Atoi(os.Getenv("HUSK_REGISTRY_TIMEOUT")); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 30 * time.Second
}

// StallError is a registry that went quiet mid-conversation.
type StallError struct {
	Host, Path string
	Idle       time.Duration
}

// Temporary lets go-containerregistry's retries try once more.
func (e *StallError) Temporary() bool { return true }

func (e *StallError) Error() string {
	return fmt.Sprintf("registry %s sent nothing for %s on %s: it stalls: try again later (HUSK_REGISTRY_TIMEOUT sets the wait in seconds)", e.Host, e.Idle, e.Path)
}

// bounded enforces the limits above on every request to one registry.
type bounded struct {
	next http.RoundTripper
	idle time.Duration
}

func (b *bounded) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := b.send(r)
	if err == nil && resp.StatusCode == http.StatusOK && isBlobGet(r) {
		resp.Body = &resumingBody{ReadCloser: resp.Body, b: b, req: r, total: resp.ContentLength}
	}
	return resp, err
}

// send is one request under the limits.
func (b *bounded) send(r *http.Request) (*http.Response, error) {
	n := 0
	for resp := r.Response; resp != nil && resp.Request != nil; resp = resp.Request.Response {
		n++
	}
	if n >= maxRedirects {
		return nil, fmt.Errorf("registry %s redirected %s %d times: it loops: report it to the registry's operator", r.URL.Host, r.URL.Path, n)
	}
	w := newWatch(r, b.idle)
	req := r.WithContext(w.ctx)
	if r.Body != nil {
		req.Body = &watchedBody{ReadCloser: r.Body, w: w, limit: -1, upload: true}
	}
	resp, err := b.next.RoundTrip(req)
	if err != nil {
		return nil, w.end(err)
	}
	limit := int64(-1)
	if strings.Contains(r.URL.Path, "/manifests/") {
		limit = maxManifest
		if resp.ContentLength > maxManifest {
			resp.Body.Close()
			return nil, w.end(fmt.Errorf("registry %s sent a manifest of %d bytes for %s, over husk's %d MiB bound: the image is not one husk can use", r.URL.Host, resp.ContentLength, r.URL.Path, maxManifest>>20))
		}
	}
	resp.Body = &watchedBody{ReadCloser: resp.Body, w: w, limit: limit}
	return resp, nil
}

// watch cancels a request that sees no bytes either way for idle.
type watch struct {
	ctx     context.Context
	cancel  context.CancelFunc
	timer   *time.Timer
	idle    time.Duration
	stalled atomic.Bool
	host    string
	path    string
}

func newWatch(r *http.Request, idle time.Duration) *watch {
	w := &watch{idle: idle, host: r.URL.Host, path: r.URL.Path}
	w.ctx, w.cancel = context.WithCancel(r.Context())
	w.timer = time.AfterFunc(idle, func() { w.stalled.Store(true); w.cancel() })
	return w
}

func (w *watch) alive() { w.timer.Reset(w.idle) }

// end stops the watch; an error caused by its own cancel becomes a
// StallError.
func (w *watch) end(err error) error {
	w.timer.Stop()
	w.cancel()
	if err != nil && w.stalled.Load() {
		return &StallError{Host: w.host, Path: w.path, Idle: w.idle}
	}
	return err
}

// watchedBody is a request's upload or its response's body: each byte
// through it keeps the watch alive.
type watchedBody struct {
	io.ReadCloser
	w      *watch
	limit  int64 // -1: none
	read   int64
	upload bool // the request's body: its end is not the request's
}

func (b *watchedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.w.alive()
	}
	b.read += int64(n)
	if b.limit >= 0 && b.read > b.limit {
		return n, fmt.Errorf("registry %s sent more than %d MiB for %s: the image is not one husk can use", b.w.host, b.limit>>20, b.w.path)
	}
	if err != nil && err != io.EOF && b.w.stalled.Load() {
		return n, &StallError{Host: b.w.host, Path: b.w.path, Idle: b.w.idle}
	}
	return n, err
}

func (b *watchedBody) Close() error {
	err := b.ReadCloser.Close()
	if !b.upload {
		b.w.timer.Stop()
		b.w.cancel()
	}
	return err
}

// maxAuthFile bounds an auth file or a CA certificate husk reads for
// itself: --authfile /dev/zero is refused instead of filling memory
// (issue 19, item 7).
const maxAuthFile = 4 << 20

// readBounded is os.ReadFile up to limit bytes; past it, an error.
func readBounded(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err == nil && int64(len(b)) > limit {
		err = fmt.Errorf("more than %d MiB, more than such a file holds", limit>>20)
	}
	return b, err
}
