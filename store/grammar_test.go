package store

import (
	"strings"
	"testing"

	"github.com/distribution/reference"
)

// grammarCases are names Docker takes and names it refuses, each part of
// the grammar at its edges.
var grammarCases = []string{
	"busybox", "busybox:1.36", "library/busybox", "docker.io/library/busybox:latest",
	"index.docker.io/foo/bar:v1", "127.0.0.1:5000/x", "localhost:5000/a/b:t", "localhost/x", "LOCALHOST/x",
	"quay.io/x/y@sha256:" + hex64, "x@sha256:" + hex64[:32], "x@sha256:" + hex64[:31], "x@sha256+b.c_d-e:" + hex64,
	"x@sha512:" + hex64 + hex64, "x@sha384:" + hex64 + hex64[:32], "x@sha384:" + hex64, "x@sha256:" + strings.ToUpper(hex64), "x@md5:" + hex64[:32],
	"x@-sha:" + hex64, "x@sha-:" + hex64, "x@sha--a:" + hex64, "x@1sha:" + hex64, "x@:" + hex64, "x@sha256:" + hex64 + "g",
	"x:tag@sha256:" + hex64, "x@y@sha256:" + hex64, hex64, hex64 + ":t", "a/" + hex64, strings.ToUpper(hex64),
	"Busybox", "Foo/bar", "foo/Bar", "Foo_x/bar", "foo_x/bar", "a..b", "a.b", "a_b", "a__b", "a___b", "a-b", "a---b",
	"a-.b", "a._b", "-a", "a-", "_a", "a_", ".a", "a.", "../../etc/passwd", "x/../y:1", "busybox:../../x", "bad::ref",
	"a:b:c", ":tag", "x:", "x:_t", "x:-t", "x:.t", "x:t-._", "x:" + strings.Repeat("t", 128), "x:" + strings.Repeat("t", 129),
	"a//b", "/a", "a/", "", "a b", "a\tb", "é",
	"host-x.io/a", "-host.io/a", "host-.io/a", "host..io/a", "host.io:/a", "host.io:5x/a", "host.io:5000:1/a",
	"[::1]:5000/a", "[::1]/a", "[]/a", "[::g]/a", "[::1]x/a", "[::1]:/a", "[fe80::1%25eth0]/a",
	strings.Repeat("a", 247), strings.Repeat("a", 248), "b/" + strings.Repeat("a", 243), "b/" + strings.Repeat("a", 244),
	"h.io/" + strings.Repeat("a", 250), "h.io/" + strings.Repeat("a", 251), "index.docker.io/" + strings.Repeat("a", 237),
	"index.docker.io/" + strings.Repeat("a", 238), "Foo/" + strings.Repeat("a", 255), "Foo/" + strings.Repeat("a", 256),
	"localhost/" + strings.Repeat("a", 255), "localhost/" + strings.Repeat("a", 256), "b/" + strings.Repeat("a", 253) + ":t",
}

// husk's grammar refuses what distribution/reference refuses, and takes
// what it takes: its cases, and whatever the fuzzer finds.
func TestDockerGrammarAsDistribution(t *testing.T) {
	for _, s := range grammarCases {
		checkGrammar(t, s)
	}
}

func FuzzDockerGrammar(f *testing.F) {
	for _, s := range grammarCases {
		f.Add(s)
	}
	f.Fuzz(checkGrammar)
}

func checkGrammar(t *testing.T, s string) {
	_, want := reference.ParseNormalizedNamed(s)
	got := dockerGrammar(s)
	if (got == nil) != (want == nil) {
		t.Errorf("%q: husk's grammar says %v, distribution/reference %v", s, got, want)
	}
}

func TestNameOnly(t *testing.T) {
	for in, want := range map[string]bool{
		"busybox": true, "127.0.0.1:5000/x": true, "h.io/a/b": true,
		"busybox:1": false, "127.0.0.1:5000/x:t": false, "x@sha256:" + hex64: false,
	} {
		if got := NameOnly(in); got != want {
			t.Errorf("NameOnly(%q) = %v, want %v", in, got, want)
		}
	}
}
