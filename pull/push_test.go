package pull

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// A registry that refuses every upload with status; what the user reads.
func TestExplainPushRefusals(t *testing.T) {
	cases := []struct {
		status   int
		loggedIn bool
		want     []string
	}{
		{http.StatusRequestEntityTooLarge, true, []string{"too large (413)", "upload limit"}},
		{http.StatusForbidden, true, []string{"denied the push", "forbidden", "husk login"}},
		{http.StatusUnauthorized, false, []string{"wants a login", "husk login"}},
		{http.StatusBadRequest, true, []string{"DIGEST_INVALID", "push again"}},
	}
	for _, c := range cases {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case r.URL.Path == "/v2/":
				w.WriteHeader(http.StatusOK)
			case r.Method == http.MethodHead:
				w.WriteHeader(http.StatusNotFound)
			case c.status == http.StatusBadRequest:
				// A blob other than its digest: the registry takes the upload,
				// then refuses its commit.
				if r.Method == http.MethodPut {
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(c.status)
					w.Write([]byte(`{"errors":[{"code":"DIGEST_INVALID","message":"provided digest did not match uploaded content"}]}`))
					return
				}
				w.Header().Set("Location", "/v2/me/box/blobs/uploads/1")
				w.WriteHeader(http.StatusAccepted)
			default:
				w.WriteHeader(c.status)
			}
		}))
		host := strings.TrimPrefix(srv.URL, "http://")
		ref, err := name.ParseReference(host+"/me/box:1", name.Insecure)
		if err != nil {
			t.Fatal(err)
		}
		img, err := random.Image(1024, 1)
		if err != nil {
			t.Fatal(err)
		}
		rt, err := Transport(host, true)
		if err != nil {
			t.Fatal(err)
		}
		err = remote.Write(ref, img, remote.WithTransport(rt))
		srv.Close()
		if err == nil {
			t.Fatalf("%d: the push succeeded", c.status)
		}
		msg := explainPush(err, host, "me/box", c.loggedIn).Error()
		for _, w := range append(c.want, host) {
			if !strings.Contains(msg, w) {
				t.Errorf("%d: %q lacks %q", c.status, msg, w)
			}
		}
		if strings.Contains(msg, "\n") {
			t.Errorf("%d: more than one line: %q", c.status, msg)
		}
	}
}
