package pull

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ParseRegistry reads a registry as `husk login` takes it: host[:port],
// docker.io, or a URL Docker would accept (https://host/v1/).
func ParseRegistry(s string, tlsVerify bool) (name.Registry, error) {
	key := RegistryKey(s)
	if key == "docker.io" {
		key = name.DefaultRegistry
	}
	opts := nameOptions(tlsVerify)
	reg, err := name.NewRegistry(key, append(opts, name.StrictValidation)...)
	if err != nil {
		return name.Registry{}, fmt.Errorf("parsing registry %q: %v: give host[:port], e.g. registry.example.com or 127.0.0.1:5000", s, err)
	}
	return reg, nil
}

// CheckLogin asks the registry whether user and pass are good: the
// handshake (a token request for bearer registries) and then GET /v2/.
func CheckLogin(ctx context.Context, reg name.Registry, user, pass string, tlsVerify bool) error {
	rt, err := Transport(reg.RegistryStr(), tlsVerify)
	if err != nil {
		return err
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: user, Password: pass})
	t, err := transport.NewWithContext(ctx, reg, auth, rt, nil)
	if err != nil {
		return explain(err, reg.RegistryStr(), "", true)
	}
	resp, err := getV2(ctx, t, "https", reg)
	if err != nil && reg.Scheme() == "http" {
		// Plain HTTP where Docker allows it (loopback, --tls-verify=false).
		resp, err = getV2(ctx, t, "http", reg)
	}
	if err != nil {
		return explain(err, reg.RegistryStr(), "", true)
	}
	defer resp.Body.Close()
	if err := transport.CheckError(resp, http.StatusOK); err != nil {
		return explain(err, reg.RegistryStr(), "", true)
	}
	return nil
}

func getV2(ctx context.Context, t http.RoundTripper, scheme string, reg name.Registry) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+reg.RegistryStr()+"/v2/", nil)
	if err != nil {
		return nil, err
	}
	return (&http.Client{Transport: t}).Do(req)
}
