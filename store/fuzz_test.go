package store

import "testing"

// A reference is the user's input: parsed, it is refused or names an image
// whose own name parses back to the same.
func FuzzParseReference(f *testing.F) {
	for _, s := range []string{"busybox", "busybox:1.36", "127.0.0.1:5000/a/b:c", "ghcr.io/o/r@sha256:" + "ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12ab12",
		"a..b", "../../etc/passwd", "UPPER/case", "localhost/x", ":tag", "a:b:c"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ref, err := ParseReference(s)
		if err != nil {
			return
		}
		again, err := ParseReference(ref.String())
		if err != nil || again.String() != ref.String() {
			t.Fatalf("%q parsed as %q, which parses as %v (%v)", s, ref.String(), again, err)
		}
	})
}
