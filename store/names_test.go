package store

import "testing"

func TestNormalizeName(t *testing.T) {
	for in, want := range map[string]string{
		"busybox":                     "docker.io/library/busybox:latest",
		"busybox:1.36":                "docker.io/library/busybox:1.36",
		"docker.io/library/busybox":   "docker.io/library/busybox:latest",
		"index.docker.io/foo/bar:v1":  "docker.io/foo/bar:v1",
		"127.0.0.1:5000/x":            "127.0.0.1:5000/x:latest",
		"localhost:5000/a/b:t":        "localhost:5000/a/b:t",
		"quay.io/x/y@sha256:" + hex64: "quay.io/x/y@sha256:" + hex64,
		"Busybox":                     "",
		"bad::ref":                    "",
		"a..b":                        "",
		"../../etc/passwd":            "",
		"x/../y:1":                    "",
		"busybox:../../x":             "",
		"":                            "",
	} {
		if got := NormalizeName(in); got != want {
			t.Errorf("NormalizeName(%q) = %q, want %q", in, got, want)
		}
	}
}

const hex64 = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

func TestSplitName(t *testing.T) {
	for in, want := range map[string][2]string{
		"docker.io/library/busybox:latest": {"docker.io/library/busybox", "latest"},
		"127.0.0.1:5000/x:v1":              {"127.0.0.1:5000/x", "v1"},
		"127.0.0.1:5000/x@sha256:" + hex64: {"127.0.0.1:5000/x", "<none>"},
		"127.0.0.1:5000/x":                 {"127.0.0.1:5000/x", "<none>"},
	} {
		r, tag := SplitName(in)
		if r != want[0] || tag != want[1] {
			t.Errorf("SplitName(%q) = %q %q, want %q", in, r, tag, want)
		}
	}
}
