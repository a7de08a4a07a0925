package executor

import (
	"strings"
	"testing"
)

// FuzzDecodeSpec feeds the C init's decoder arbitrary bytes: it refuses or
// decodes, and never reads past its input, which ends where a page it may
// not read begins (DecodeSpec). Its seeds (testdata/fuzz) are specs the
// Go encoder wrote.
func FuzzDecodeSpec(f *testing.F) {
	f.Add([]byte("V\x001\x00h\x00h\x00c\x00/\x00u\x00\x00s\x00/s\x00i\x00\x00x\x00\x00a\x00true\x00"))
	f.Add([]byte("V\x001\x00h\x00h\x00c\x00/\x00u\x00\x00s\x00/s\x00i\x00\x00x\x00\x00a\x00true\x00G\x00tester\x00R\x007\x00512\x001024\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeSpec(b)
		if err == nil && (len(d.Args) == 0 || !strings.HasPrefix(d.Cwd, "/") || !strings.HasPrefix(d.Scratch, "/")) {
			t.Errorf("decoded a spec without what the init needs: %+v", d)
		}
	})
}

// FuzzDecodeExecSpec is FuzzDecodeSpec for exec's decoder.
func FuzzDecodeExecSpec(f *testing.F) {
	f.Add([]byte("V\x001\x00E\x00c\x00/\x00u\x00\x00a\x00true\x00e\x00A=1\x00w\x00"))
	f.Add([]byte("V\x001\x00E\x00c\x00/\x00u\x00\x00a\x00true\x00G\x004242\x00R\x006\x0010\x0010\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := DecodeExecSpec(b)
		if err == nil && (!d.Exec || len(d.Args) == 0 || !strings.HasPrefix(d.Cwd, "/") || d.Scratch != "" || d.Hostname != "") {
			t.Errorf("decoded an exec spec that is not one: %+v", d)
		}
	})
}
