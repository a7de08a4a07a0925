package store

import (
	"regexp"
	"strings"
	"testing"
)

// idPrefix is what a regexp said before: 1 to 64 lowercase hex digits,
// an image ID or a prefix of one ('husk rmi 3f2a', 'husk run <id>').
func TestIDPrefix(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-f]{1,64}$`)
	cases := []string{
		"", "0", "f", "3f2a", "abcdef0123456789", strings.Repeat("a", 63), strings.Repeat("0", 64), strings.Repeat("0", 65),
		"g", "3F2A", "sha256:3f2a", "3f2a ", " 3f2a", "3f-2a", "alpine", "\x00", "é", strings.Repeat("f", 64) + "\n",
	}
	for _, c := range cases {
		if got, want := idPrefix(c), re.MatchString(c); got != want {
			t.Errorf("idPrefix(%q) = %v, the regexp says %v", c, got, want)
		}
	}
}

func FuzzIDPrefix(f *testing.F) {
	re := regexp.MustCompile(`^[0-9a-f]{1,64}$`)
	for _, s := range []string{"", "3f2a", strings.Repeat("a", 64), strings.Repeat("a", 65), "3F2A"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := idPrefix(s), re.MatchString(s); got != want {
			t.Errorf("idPrefix(%q) = %v, the regexp says %v", s, got, want)
		}
	})
}
