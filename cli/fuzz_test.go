package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An --env-file or --label-file holds anything: read, it is refused or
// gives trimmed lines with no line break and no comment.
func FuzzListFile(f *testing.F) {
	for _, s := range []string{"A=1\nB=2\n", "# c\n\nA\n", "=x\n", "A=1\r\nB\n", "\x00\xff\n", strings.Repeat("x", 70000)} {
		f.Add([]byte(s))
	}
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		path := filepath.Join(dir, "list")
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
		lines, err := readListFile("--env-file", path)
		if err != nil {
			return
		}
		for _, l := range lines {
			if l.text == "" || strings.ContainsAny(l.text, "\n") || strings.HasPrefix(l.text, "#") || l.n < 1 {
				t.Fatalf("line %d: %q", l.n, l.text)
			}
		}
	})
}
