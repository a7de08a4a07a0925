package store

import (
	"strings"
	"testing"
)

func TestImageStores(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ env, want, err string }{
		{"", "", ""},
		{dir, dir, ""},
		{":" + dir + "/:", dir, ""},
		{"rel/path", "", "not an absolute path"},
		{dir + "/missing", "", "publish an image there first"},
		{dir + ",x", "", "without commas"},
	} {
		t.Setenv(EnvImageStores, tc.env)
		got, err := ImageStores()
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: want an error with %q, got %v", tc.env, tc.err, err)
			}
			continue
		}
		if err != nil || strings.Join(got, ":") != tc.want {
			t.Errorf("%q: got %q, %v; want %q", tc.env, got, err, tc.want)
		}
	}
}
