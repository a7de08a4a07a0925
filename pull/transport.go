package pull

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"time"
)

// CertsDirs are where a registry's CA certificates are looked for, in
// order: husk's own, then the ones podman and Docker read.
func CertsDirs(hostPort string) []string {
	return []string{
		filepath.Join(ConfigDir(), "certs.d", hostPort),
		filepath.Join("/etc/containers/certs.d", hostPort),
		filepath.Join("/etc/docker/certs.d", hostPort),
	}
}

// Transport is the HTTP transport for one registry: TLS verified against
// the system roots plus the registry's certs.d CAs. Plain HTTP is allowed
// only to loopback addresses (Docker's rule) unless tlsVerify is false.
//
// A loopback registry is verified against its certs.d CAs only: no public
// CA issues certificates for localhost or 127.0.0.1, and reading the
// system's roots costs a cold pull tens of milliseconds.
func Transport(hostPort string, tlsVerify bool) (http.RoundTripper, error) {
	pool := x509.NewCertPool()
	if !isLoopbackRegistry(hostPort) {
		if sys, err := x509.SystemCertPool(); err == nil && sys != nil {
			pool = sys
		}
	}
	for _, dir := range CertsDirs(hostPort) {
		if err := addCAs(pool, dir); err != nil {
			return nil, err
		}
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: pool, InsecureSkipVerify: !tlsVerify, MinVersion: tls.VersionTLS12}
	// Layers come in parallel from one host.
	t.MaxIdleConnsPerHost = 16
	t.ResponseHeaderTimeout = 60 * time.Second
	return &plainHTTPPolicy{next: &bounded{next: t, idle: idleTimeout()}, allowAll: !tlsVerify}, nil
}

// addCAs adds every *.crt file of dir to pool; a missing dir adds nothing.
func addCAs(pool *x509.CertPool, dir string) error {
	files, _ := filepath.Glob(filepath.Join(dir, "*.crt"))
	for _, f := range files {
		b, err := readBounded(f, maxAuthFile)
		if err != nil {
			return fmt.Errorf("reading the registry CA %s: %w: make it readable or remove it", f, err)
		}
		if !pool.AppendCertsFromPEM(b) {
			return fmt.Errorf("reading the registry CA %s: no PEM certificate in it: put the CA certificate there in PEM form", f)
		}
	}
	return nil
}

// plainHTTPPolicy refuses plain HTTP to registries that are not on the
// loopback: go-containerregistry also falls back to it for private
// (RFC 1918) addresses and *.local names, where a network attacker could
// serve a different image.
type plainHTTPPolicy struct {
	next     http.RoundTripper
	allowAll bool
}

func (p *plainHTTPPolicy) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Scheme == "http" && !p.allowAll && !IsLoopback(r.URL.Hostname()) {
		return nil, fmt.Errorf("refusing plain HTTP to %s: only loopback registries may skip TLS: use HTTPS, or pass --tls-verify=false", r.URL.Host)
	}
	return p.next.RoundTrip(r)
}

// isLoopbackRegistry reports a registry host[:port] on a loopback address.
func isLoopbackRegistry(hostPort string) bool {
	if host, _, err := net.SplitHostPort(hostPort); err == nil {
		return IsLoopback(host)
	}
	return IsLoopback(hostPort)
}

// IsLoopback reports a host in 127.0.0.0/8, ::1 or localhost.
func IsLoopback(host string) bool {
	host = strings.Trim(host, "[]")
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
