package integration

import (
	"debug/elf"
	"os"
	"regexp"
	"testing"
)

func TestVersion(t *testing.T) {
	e := newEnv(t)
	r := e.ok("--version")
	if !regexp.MustCompile(`version \S+, commit [0-9a-f]{7,}`).MatchString(r.stdout) {
		t.Errorf("--version: want \"husk version V, commit HEX\": %s", r)
	}
}

// One static x86-64 file under 40 MB: no program interpreter.
func TestBinaryStatic(t *testing.T) {
	st, err := os.Stat(huskBin)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() >= 40<<20 {
		t.Errorf("%s: %d bytes, want under 40 MB", huskBin, st.Size())
	}
	f, err := elf.Open(huskBin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Machine != elf.EM_X86_64 {
		t.Errorf("machine %v, want x86-64", f.Machine)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("%s has a program interpreter: it is dynamically linked", huskBin)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) != 0 {
		t.Errorf("%s needs shared libraries %q", huskBin, libs)
	}
}
