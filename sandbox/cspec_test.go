package sandbox

import (
	"bytes"
	"reflect"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"husk/network"
	"husk/sandbox/abi"
	"husk/sandbox/executor"
)

// The C init's decoder reads what the Go encoder writes: every field of
// every record, as the encoder meant it.

func roundTripSpecs() map[string]*CSpec {
	bpf := make([]byte, 8*3)
	for i := range bpf {
		bpf[i] = byte(i * 37)
	}
	full := &Spec{
		Hostname: "0123456789ab", Cwd: "/work dir/é", User: "1000:100",
		Args:    []string{"sh", "-c", "echo 'a b' \"$X\"", "", "ünïcode"},
		Env:     []string{"PATH=/usr/bin:/bin", "X=1=2", "EMPTY="},
		Scratch: "/tmp/husk-scratch", RootOps: FuseOverlayRoot("/usr/bin/fuse-overlayfs", []string{"/l1", "/l2"}, "/rw"),
		Mounts: []Op{{Kind: KindBind, Source: "/host/src", Target: "/src", Flags: unix.MS_RDONLY},
			{Kind: KindMount, FSType: "tmpfs", Source: "tmpfs", Target: "/scratch", Data: "size=1m"}},
		ReadOnly: true, Files: []File{{Path: "/etc/hosts", Content: "127.0.0.1\tlocalhost\n"}, {Path: "/etc/hostname", Content: ""}},
		Loopback: true, MaskedPaths: []string{"/proc/kcore"}, ReadonlyPaths: []string{"/proc/sys"},
		Caps: []string{"CAP_CHOWN", "CAP_NET_BIND_SERVICE", "CAP_SYS_ADMIN"}, NoNewPrivs: true, SeccompBPF: bpf,
		KeepID: true, NoSetGroups: true, Terminal: true,
		GroupAdd: []string{"tester", "4242"}, ShmSize: 1 << 27,
		Rlimits: []Rlimit{{Resource: unix.RLIMIT_NOFILE, Soft: 512, Hard: 1024}, {Resource: unix.RLIMIT_NPROC, Soft: unix.RLIM_INFINITY, Hard: unix.RLIM_INFINITY}},
		Net:     &network.Spec{Mode: network.Builtin, Dials: true, DirectPorts: true},
		Hooks: []Hook{{When: HookCreateContainer, Path: "/usr/bin/hook", Args: []string{"hook", "a b"}, Env: []string{"PATH=/bin"}, Timeout: 5},
			{When: HookStartContainer, Path: "/bin/true"}},
	}
	bare := &Spec{Hostname: "h", Cwd: "/", Scratch: "/s", Args: []string{"true"},
		RootOps: OverlayRoot([]string{"/lower"}, "/upper")}
	return map[string]*CSpec{
		"full": {Spec: full, InUse: "/store/in-use/abc", ImageDir: "/store/overlay/abc/diff"},
		"bare": {Spec: bare},
	}
}

func TestSpecRoundTrip(t *testing.T) {
	for name, c := range roundTripSpecs() {
		t.Run(name, func(t *testing.T) {
			b, err := c.Encode()
			if err != nil {
				t.Fatal(err)
			}
			got, err := executor.DecodeSpec(b)
			if err != nil {
				t.Fatal(err)
			}
			if w := want(t, c); !reflect.DeepEqual(w, got) {
				t.Errorf("decoded spec differs:\nencoded %+v\ndecoded %+v", w, got)
			}
		})
	}
}

// want is what the decoder must find in c's encoding.
func want(t *testing.T, c *CSpec) *executor.Decoded {
	s := c.Spec
	d := &executor.Decoded{Hostname: s.Hostname, Cwd: s.Cwd, User: s.User, Scratch: s.Scratch, InUse: c.InUse,
		ImageDir: c.ImageDir, Args: s.Args, Env: s.Env, KeepID: s.KeepID, NoSetGroups: s.NoSetGroups,
		Loopback: s.Loopback, ReadOnly: s.ReadOnly, NoNewPrivs: s.NoNewPrivs, Tty: s.Terminal, Seccomp: s.SeccompBPF}
	for _, o := range s.RootOps {
		d.RootOps = append(d.RootOps, wantOp(o))
	}
	for _, o := range s.Ops(s.Scratch) {
		d.Ops = append(d.Ops, wantOp(o))
	}
	for _, f := range s.Files {
		d.Files = append(d.Files, [2]string{f.Path, f.Content})
	}
	caps, err := ParseCaps(s.Caps)
	if err != nil {
		t.Fatal(err)
	}
	for _, cp := range caps {
		d.Caps = append(d.Caps, int(cp))
	}
	d.Groups = s.GroupAdd
	for _, r := range s.Rlimits {
		d.Rlimits = append(d.Rlimits, [3]uint64{uint64(r.Resource), r.Soft, r.Hard})
	}
	for _, h := range s.Hooks {
		args := h.Args
		if len(args) == 0 {
			args = []string{h.Path}
		}
		d.Hooks = append(d.Hooks, executor.DecodedHook{When: hookWhen[h.When][0], Timeout: uint64(h.Timeout), Path: h.Path, Args: args, Env: h.Env})
	}
	if len(s.Hooks) > 0 {
		d.HookState = `{"ociVersion":"1.3.0","id":"","status":"creating","bundle":"` + s.Scratch + `"}`
	}
	if s.Net != nil {
		d.Net = &executor.DecodedNet{Mode: s.Net.Mode, Tap: "tap0", IP: "10.0.2.100", Mask: "255.255.255.0",
			Gateway: "10.0.2.2", MTU: 65520, Dials: s.Net.Dials, Direct: s.Net.DirectPorts, MAC: "02:42:0a:00:02:64"}
	}
	return d
}

func wantOp(o Op) executor.DecodedOp {
	return executor.DecodedOp{Kind: int(opKinds[o.Kind]), Source: o.Source, Target: o.Target, FSType: o.FSType,
		Data: o.Data, Flags: uint64(o.Flags), Optional: o.Optional}
}

// Every kind the Go side can plan has its number in abi.h.
func TestEveryKindHasANumber(t *testing.T) {
	for _, k := range []Kind{KindMount, KindBind, KindBindDev, KindMkdir, KindSymlink, KindMask, KindReadonly,
		KindFile, KindFuseOverlay} {
		if _, ok := opKinds[k]; !ok {
			t.Errorf("kind %q has no number for the C init", k)
		}
	}
	c := roundTripSpecs()["bare"]
	c.RootOps = append(c.RootOps, Op{Kind: "teleport", Target: "/x"})
	if _, err := c.Encode(); err == nil || !strings.Contains(err.Error(), "teleport") {
		t.Errorf("an unknown kind encoded: %v", err)
	}
}

// A NUL inside a field would end it early and shift every record after.
func TestEncodeRefusesNUL(t *testing.T) {
	c := roundTripSpecs()["bare"]
	c.Mounts = []Op{{Kind: KindMount, FSType: "tmpfs", Source: "tmpfs", Target: "/a\x00b"}}
	if _, err := c.Encode(); err == nil || !strings.Contains(err.Error(), "NUL") {
		t.Errorf("a NUL in a target encoded: %v", err)
	}
}

// A path the C init would refuse is refused here, with the fix.
func TestEncodeRefusesLongPath(t *testing.T) {
	c := roundTripSpecs()["bare"]
	c.Mounts = []Op{{Kind: KindBind, Source: "/" + strings.Repeat("a", abi.PathMax), Target: "/a"}}
	if _, err := c.Encode(); err == nil || !strings.Contains(err.Error(), "keep it under 4000 bytes") {
		t.Errorf("a long path encoded: %v", err)
	}
}

// hostile are encodings the decoder must refuse, each for its reason.
func TestDecodeRefuses(t *testing.T) {
	good, err := roundTripSpecs()["full"].Encode()
	if err != nil {
		t.Fatal(err)
	}
	bare, err := roundTripSpecs()["bare"].Encode()
	if err != nil {
		t.Fatal(err)
	}
	version := []byte{byte(abi.TagVersion), 0, '1', 0}
	rest := good[len(version):]
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	cases := map[string]struct {
		b    []byte
		want string
	}{
		"empty":              {nil, "no terminator"},
		"no terminator":      {good[:len(good)-1], "no terminator"},
		"no version":         {rest, "does not start with its version"},
		"wrong version":      {cat([]byte("V\x002\x00"), rest), "version 2, where this husk reads version 1"},
		"unknown tag":        {cat(good, []byte("Q\x00")), "unknown record Q"},
		"long tag":           {cat(good, []byte("hh\x00x\x00")), "is not one letter"},
		"empty tag":          {cat(good, []byte("\x00")), "is not one letter"},
		"twice":              {cat(good, []byte("h\x00again\x00")), "record h appears twice"},
		"cut op":             {cat(good, []byte("o\x001\x00src\x00")), "record o is cut short"},
		"cut arg":            {cat(good, []byte("a\x00")), "record a is cut short"},
		"unknown kind":       {cat(good, []byte("o\x0099\x00s\x00/t\x00\x000\x00\x000\x00")), "unknown setup operation \"99\""},
		"kind not a number":  {cat(good, []byte("o\x00bind\x00s\x00/t\x00\x000\x00\x000\x00")), "unknown setup operation \"bind\""},
		"fuse in ops":        {cat(good, []byte("o\x009\x00s\x00/t\x00\x000\x00\x000\x00")), "cannot be in record o"},
		"mkdir builds root":  {cat(good, []byte("r\x004\x00s\x00/t\x00\x000\x00\x000\x00")), "cannot be in record r"},
		"bad flags":          {cat(good, []byte("o\x001\x00s\x00/t\x00\x00-1\x00\x000\x00")), "not a number"},
		"flags overflow":     {cat(good, []byte("o\x001\x00s\x00/t\x00\x0099999999999999999999\x00\x000\x00")), "not a number"},
		"bad optional":       {cat(good, []byte("o\x001\x00s\x00/t\x00\x000\x00\x00yes\x00")), "not 0 or 1"},
		"long path":          {cat(good, []byte("o\x004\x00\x00/"+strings.Repeat("a", abi.PathMax)+"\x00\x000\x00\x000\x00")), "too long"},
		"cap out of range":   {cat(good, []byte("p\x0064\x00")), "not a capability"},
		"seccomp not hex":    {cat(version, []byte("b\x00zz00000000000000\x00"), rest[:0]), "not hex"},
		"seccomp partial":    {cat(version, []byte("b\x00abcd\x00")), "not whole instructions"},
		"bad address":        {cat(version, []byte("n\x00builtin\x00tap0\x00300.1.1.1\x00255.0.0.0\x0010.0.0.1\x001500\x000\x000\x0002:42:0a:00:00:02\x00")), "not an IPv4 address"},
		"bad mtu":            {cat(version, []byte("n\x00builtin\x00tap0\x0010.0.0.2\x00255.0.0.0\x0010.0.0.1\x0010\x000\x000\x0002:42:0a:00:00:02\x00")), "MTU"},
		"bad mac":            {cat(version, []byte("n\x00builtin\x00tap0\x0010.0.0.2\x00255.0.0.0\x0010.0.0.1\x001500\x000\x000\x0002:42:0a:00:00:0\x00")), "not a MAC address"},
		"long tap":           {cat(version, []byte("n\x00builtin\x00tap0123456789abcdef\x0010.0.0.2\x00255.0.0.0\x0010.0.0.1\x001500\x000\x000\x0002:42:0a:00:00:02\x00")), "too long"},
		"missing hostname":   {cat(version, []byte("a\x00sh\x00")), "record h is missing"},
		"no command":         {bytes.ReplaceAll(good, []byte("a\x00"), []byte("e\x00")), "no command"},
		"too many root ops":  {cat(good, bytes.Repeat([]byte("r\x001\x00s\x00/t\x00\x000\x00\x000\x00"), abi.MaxRootOps)), "root operations"},
		"too large":          {make([]byte, abi.SpecMax+1), "more than"},
		"rlimit soft > hard": {cat(good, []byte("R\x007\x002\x001\x00")), "is not a resource"},
		"rlimit resource":    {cat(good, []byte("R\x0099\x001\x001\x00")), "is not a resource"},
		"cut rlimit":         {cat(good, []byte("R\x007\x001\x00")), "record R is cut short"},
		"cut group":          {cat(good, []byte("G\x00")), "record G is cut short"},
		"too many groups":    {cat(good, bytes.Repeat([]byte("G\x00g\x00"), abi.MaxGroups)), "added groups"},
		"too many rlimits":   {cat(good, bytes.Repeat([]byte("R\x007\x001\x001\x00"), abi.MaxRlimits)), "rlimits"},
		"hook without state": {cat(bare, []byte("H\x00c\x000\x00/h\x001\x000\x00h\x00")), "record O is missing"},
		"hook relative path": {cat(bare, []byte("O\x00{}\x00H\x00c\x000\x00h\x001\x000\x00h\x00")), "is not a kind"},
		"hook unknown kind":  {cat(bare, []byte("O\x00{}\x00H\x00x\x000\x00/h\x001\x000\x00h\x00")), "is not a kind"},
		"hook without argv":  {cat(bare, []byte("O\x00{}\x00H\x00c\x000\x00/h\x000\x000\x00")), "is not a kind"},
		"cut hook":           {cat(bare, []byte("O\x00{}\x00H\x00s\x000\x00/h\x002\x001\x00h\x00")), "record H is cut short"},
		"too many hooks":     {cat(bare, []byte("O\x00{}\x00"), bytes.Repeat([]byte("H\x00c\x000\x00/h\x001\x000\x00h\x00"), abi.MaxHooks+1)), "hooks"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := executor.DecodeSpec(tc.b)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// Cut at every offset, a spec is refused (never read past: the decoder's
// input ends at a page it cannot read), unless the cut falls between
// records after the last one it needs.
func TestDecodeTruncated(t *testing.T) {
	good, err := roundTripSpecs()["full"].Encode()
	if err != nil {
		t.Fatal(err)
	}
	for n := 0; n < len(good); n++ {
		d, err := executor.DecodeSpec(good[:n])
		if err == nil && (good[n-1] != 0 || len(d.Args) == 0) {
			t.Fatalf("cut at %d of %d: decoded", n, len(good))
		}
	}
}

// An exec spec round-trips too: the process's records alone, read by
// exec's decoder, which the init's refuses.
func TestExecSpecRoundTrip(t *testing.T) {
	for name, c := range roundTripSpecs() {
		for _, binds := range []bool{false, true} {
			b, err := c.Spec.EncodeExec(binds)
			if err != nil {
				t.Fatal(err)
			}
			got, err := executor.DecodeExecSpec(b)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			s := c.Spec
			w := &executor.Decoded{Cwd: s.Cwd, User: s.User, Args: s.Args, Env: s.Env, KeepID: s.KeepID,
				NoSetGroups: s.NoSetGroups, NoNewPrivs: s.NoNewPrivs, Tty: s.Terminal, Seccomp: s.SeccompBPF,
				Caps: want(t, c).Caps, Groups: want(t, c).Groups, Rlimits: want(t, c).Rlimits, Exec: true, WatchBinds: binds}
			if !reflect.DeepEqual(w, got) {
				t.Errorf("%s, binds %v: decoded exec spec differs:\nencoded %+v\ndecoded %+v", name, binds, w, got)
			}
			if _, err := executor.DecodeSpec(b); err == nil || !strings.Contains(err.Error(), "exec spec") {
				t.Errorf("%s: the init's decoder took an exec spec: %v", name, err)
			}
			for n := 0; n < len(b); n++ {
				if d, err := executor.DecodeExecSpec(b[:n]); err == nil && (b[n-1] != 0 || len(d.Args) == 0) {
					t.Fatalf("%s: cut at %d of %d: decoded", name, n, len(b))
				}
			}
		}
	}
	init, err := roundTripSpecs()["full"].Encode()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := executor.DecodeExecSpec(init); err == nil || !strings.Contains(err.Error(), "not an exec spec") {
		t.Errorf("exec's decoder took an init's spec: %v", err)
	}
}
