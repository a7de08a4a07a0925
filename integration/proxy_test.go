package integration

import (
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// proxy sits in front of the plain registry on its own loopback port. It
// records which blobs are fetched and can hold each blob download back, so
// that a test can catch husk in the middle of a pull.
type proxy struct {
	Addr  string
	delay atomic.Int64 // nanoseconds each blob GET waits before it is served
	mu    sync.Mutex
	blobs []string // digests of blob GETs, in order
}

func newProxy(t *testing.T, target *Registry, delay time.Duration) *proxy {
	t.Helper()
	u, err := url.Parse(target.URL())
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{}
	p.delay.Store(int64(delay))
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.Transport = target.Transport()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.Addr = l.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if i := strings.Index(r.URL.Path, "/blobs/"); i >= 0 && r.Method == http.MethodGet {
			p.mu.Lock()
			p.blobs = append(p.blobs, r.URL.Path[i+len("/blobs/"):])
			p.mu.Unlock()
			select {
			case <-time.After(time.Duration(p.delay.Load())):
			case <-r.Context().Done():
				return
			}
		}
		rp.ServeHTTP(w, r)
	})}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return p
}

// Ref is repo:tag through the proxy.
func (p *proxy) Ref(repoTag string) string { return p.Addr + "/" + repoTag }

func (p *proxy) SetDelay(d time.Duration) { p.delay.Store(int64(d)) }

// Fetched returns the digests of the blob GETs so far, and forgets them.
func (p *proxy) Fetched() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.blobs
	p.blobs = nil
	return out
}
