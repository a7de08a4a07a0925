package pull

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// explain turns an error from the registry conversation into one line
// that says what went wrong and what to do. registry is host[:port];
// loggedIn is whether credentials were sent.
func explain(err error, registry, tag string, loggedIn bool) error {
	var (
		te   *transport.Error
		ue   x509.UnknownAuthorityError
		he   x509.HostnameError
		ce   x509.CertificateInvalidError
		ve   *tls.CertificateVerificationError
		rhe  tls.RecordHeaderError
		dnse *net.DNSError
	)
	tlsFix := fmt.Sprintf("put the registry's CA certificate in %s, or pass --tls-verify=false",
		filepath.Join(CertsDirs(registry)[0], "ca.crt"))
	switch {
	case errors.As(err, &ue), errors.As(err, &he), errors.As(err, &ce), errors.As(err, &ve):
		return fmt.Errorf("TLS verification of %s failed: %s: %s", registry, tlsDetail(err), tlsFix)
	case errors.As(err, &rhe) || strings.Contains(err.Error(), "server gave HTTP response to HTTPS client"):
		return fmt.Errorf("%s does not speak TLS: pass --tls-verify=false to use plain HTTP", registry)
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Errorf("registry %s is down: connection refused: check that it runs and the address and port", registry)
	case errors.As(err, &dnse):
		return fmt.Errorf("registry %s is not reachable: no such host: check the name", registry)
	case errors.As(err, &te):
		return explainStatus(te, registry, tag, loggedIn)
	case errors.As(err, new(*StallError)):
		return err
	case isTimeout(err):
		return fmt.Errorf("registry %s is not reachable: timed out: check the network or proxy", registry)
	}
	return err
}

func explainStatus(te *transport.Error, registry, tag string, loggedIn bool) error {
	login := "husk login " + RegistryKey(registry)
	switch {
	case te.StatusCode == http.StatusUnauthorized && loggedIn:
		return fmt.Errorf("%s refused the credentials (unauthorized): check the user name and password, or run %s", registry, login)
	case te.StatusCode == http.StatusUnauthorized || te.StatusCode == http.StatusForbidden || hasCode(te, transport.DeniedErrorCode):
		return fmt.Errorf("access denied by %s: the repository does not exist or needs a login: check the name, or run %s", registry, login)
	case (te.StatusCode == http.StatusNotFound || hasCode(te, transport.BlobUnknownErrorCode)) && te.Request != nil && strings.Contains(te.Request.URL.Path, "/blobs/"):
		return fmt.Errorf("registry %s lacks the blob %s that the image names (%d): the image there is incomplete: push it again", registry, path.Base(te.Request.URL.Path), te.StatusCode)
	case te.StatusCode == http.StatusNotFound || hasCode(te, transport.ManifestUnknownErrorCode) || hasCode(te, transport.NameUnknownErrorCode):
		return fmt.Errorf("manifest unknown: the repository or the tag %q does not exist on %s: check the name and tag", tag, registry)
	case te.StatusCode == http.StatusTooManyRequests:
		return fmt.Errorf("%s: too many requests: wait, or log in (%s) for a higher limit", registry, login)
	}
	return fmt.Errorf("%s answered: %s: try again later, or check the registry", registry, strings.TrimSpace(te.Error()))
}

func hasCode(te *transport.Error, code transport.ErrorCode) bool {
	for _, d := range te.Errors {
		if d.Code == code {
			return true
		}
	}
	return false
}

func tlsDetail(err error) string {
	var ue x509.UnknownAuthorityError
	var he x509.HostnameError
	switch {
	case errors.As(err, &ue):
		return "certificate signed by unknown authority"
	case errors.As(err, &he):
		return he.Error()
	}
	var ce x509.CertificateInvalidError
	if errors.As(err, &ce) {
		return ce.Error()
	}
	return "certificate not trusted"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
