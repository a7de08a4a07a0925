package seccomp

import "testing"

// A profile file is the user's input: whatever it holds, reading and
// compiling it fails with an error or gives a filter, never a crash.
func FuzzProfile(f *testing.F) {
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ALLOW"}`))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ERRNO","syscalls":[{"names":["read","write"],"action":"SCMP_ACT_ALLOW"}]}`))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mount"],"action":"SCMP_ACT_ERRNO","args":[{"index":1,"value":2,"op":"SCMP_CMP_MASKED_EQ","valueTwo":3}]}]}`))
	f.Add([]byte(`{"defaultAction":"SCMP_ACT_KILL","architectures":["SCMP_ARCH_X86_64"]}`))
	f.Add([]byte(`{not json`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := parseProfile("fuzz.json", body, []string{"CAP_CHOWN"})
		if err != nil || p == nil {
			return
		}
		_, _ = CompileBPF(p)
	})
}
