package executor

/*
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "executor.h"

// guarded copies len bytes to the end of a readable page run followed by
// a page that is not, so that a read past the end faults at once.
static char *guarded(const void *src, size_t len, size_t *maplen)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), data = (len + page - 1) / page * page;
	*maplen = data + page;
	char *m = mmap(NULL, *maplen, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	if (mprotect(m + data, page, PROT_NONE) != 0) {
		munmap(m, *maplen);
		return NULL;
	}
	char *p = m + data - len;
	if (len > 0)
		memcpy(p, src, len);
	mprotect(m, data, PROT_READ);
	return p;
}

static void unguard(char *p, size_t len, size_t maplen)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE), data = (len + page - 1) / page * page;
	munmap(p + len - data, maplen);
}

static struct husk_op *op_at(struct husk_op *ops, int i) { return &ops[i]; }
static const char *str_at(const char **list, int i) { return list[i]; }
*/
import "C"

import (
	"errors"
	"fmt"
	"net"
	"unsafe"
)

// Decoded is a spec as the C init's decoder read it: the Go side of the
// round trip that tests the encoder against the decoder.
type Decoded struct {
	Hostname, Cwd, User, Scratch, InUse, ImageDir                  string
	Args, Env                                                      []string
	KeepID, NoSetGroups, Loopback, ReadOnly, NoNewPrivs, Tty, Hold bool
	RootOps, Ops                                                   []DecodedOp
	Files                                                          [][2]string
	Caps                                                           []int
	Seccomp                                                        []byte
	Net                                                            *DecodedNet
	Groups                                                         []string
	Rlimits                                                        [][3]uint64 // resource, soft, hard
	HookState                                                      string
	Hooks                                                          []DecodedHook
	// Exec: an exec spec, whose process sends its bind listener when
	// WatchBinds.
	Exec, WatchBinds bool
}

// DecodedHook is one CDI hook: when is 'c' or 's'.
type DecodedHook struct {
	When      byte
	Timeout   uint64
	Path      string
	Args, Env []string
}

// DecodedOp is one setup operation, its kind abi.h's number.
type DecodedOp struct {
	Kind                         int
	Source, Target, FSType, Data string
	Flags                        uint64
	Optional                     bool
}

// DecodedNet is the spec's network.
type DecodedNet struct {
	Mode, Tap, IP, Mask, Gateway, MAC string
	MTU                               int
	Dials, Direct                     bool
}

// DecodeSpec runs the C init's decoder on b, placed so that reading one
// byte past it faults. It serves tests: the init decodes its own input.
func DecodeSpec(b []byte) (*Decoded, error) { return decode(b, false) }

// DecodeExecSpec is DecodeSpec with exec's decoder.
func DecodeExecSpec(b []byte) (*Decoded, error) { return decode(b, true) }

func decode(b []byte, exec bool) (*Decoded, error) {
	var maplen C.size_t
	var src unsafe.Pointer
	if len(b) > 0 {
		src = unsafe.Pointer(&b[0])
	}
	p := C.guarded(src, C.size_t(len(b)), &maplen)
	if p == nil {
		return nil, errors.New("mapping the spec's copy failed")
	}
	defer C.unguard(p, C.size_t(len(b)), maplen)
	var s C.struct_husk_spec
	defer C.husk_spec_free(&s)
	var msg [512]C.char
	r := C.int(0)
	if exec {
		r = C.husk_exec_spec_decode(p, C.size_t(len(b)), &s, &msg[0], C.size_t(len(msg)))
	} else {
		r = C.husk_spec_decode(p, C.size_t(len(b)), &s, &msg[0], C.size_t(len(msg)))
	}
	if r != 0 {
		return nil, fmt.Errorf("decoding the spec: %s", C.GoString(&msg[0]))
	}
	return decoded(&s), nil
}

func decoded(s *C.struct_husk_spec) *Decoded {
	d := &Decoded{
		Hostname: C.GoString(s.hostname), Cwd: C.GoString(s.cwd), User: C.GoString(s.user),
		Scratch: C.GoString(s.scratch), InUse: C.GoString(s.inuse), ImageDir: C.GoString(s.image_dir),
		KeepID: s.keep_id != 0, NoSetGroups: s.no_setgroups != 0, Loopback: s.loopback != 0,
		ReadOnly: s.readonly != 0, NoNewPrivs: s.no_new_privs != 0, Tty: s.terminal != 0, Hold: s.hold != 0,
	}
	for i := 0; i < int(s.nargs); i++ {
		d.Args = append(d.Args, C.GoString(C.str_at(s.args, C.int(i))))
	}
	for i := 0; i < int(s.nenv); i++ {
		d.Env = append(d.Env, C.GoString(C.str_at(s.env, C.int(i))))
	}
	for i := 0; i < int(s.nroot); i++ {
		d.RootOps = append(d.RootOps, decodedOp(&s.root_ops[i]))
	}
	for i := 0; i < int(s.nops); i++ {
		d.Ops = append(d.Ops, decodedOp(C.op_at(s.ops, C.int(i))))
	}
	for i := 0; i < int(s.nfiles); i++ {
		d.Files = append(d.Files, [2]string{C.GoString(s.file_path[i]), C.GoString(s.file_content[i])})
	}
	for i := 0; i < int(s.ncaps); i++ {
		d.Caps = append(d.Caps, int(s.caps[i]))
	}
	for i := 0; i < int(s.ngroups); i++ {
		d.Groups = append(d.Groups, C.GoString(s.groups[i]))
	}
	for i := 0; i < int(s.nrlimits); i++ {
		r := s.rlimits[i]
		d.Rlimits = append(d.Rlimits, [3]uint64{uint64(r.resource), uint64(r.soft), uint64(r.hard)})
	}
	d.HookState = C.GoString(s.hook_state)
	for i := 0; i < int(s.nhooks); i++ {
		h := &s.hooks[i]
		d.Hooks = append(d.Hooks, DecodedHook{When: byte(h.when), Timeout: uint64(h.timeout), Path: C.GoString(h.path),
			Args: strList(h.argv), Env: strList(h.envp)})
	}
	if s.seccomp_len > 0 {
		d.Seccomp = C.GoBytes(unsafe.Pointer(s.seccomp), C.int(s.seccomp_len))
	}
	if s.exec != 0 {
		d.Exec, d.WatchBinds = true, s.has_net != 0
	} else if s.has_net != 0 {
		n := &s.net
		d.Net = &DecodedNet{Mode: C.GoString(n.mode), Tap: C.GoString(n.tap), IP: C.GoString(n.ip),
			Mask: C.GoString(n.mask), Gateway: C.GoString(n.gw), MTU: int(n.mtu), Dials: n.dials != 0,
			Direct: n.direct != 0, MAC: net.HardwareAddr(C.GoBytes(unsafe.Pointer(&n.mac[0]), 6)).String()}
	}
	return d
}

// strList is a NULL-terminated list of C strings.
func strList(l **C.char) []string {
	var out []string
	for i := 0; C.str_at(l, C.int(i)) != nil; i++ {
		out = append(out, C.GoString(C.str_at(l, C.int(i))))
	}
	return out
}

func decodedOp(o *C.struct_husk_op) DecodedOp {
	return DecodedOp{Kind: int(o.kind), Source: C.GoString(o.source), Target: C.GoString(o.target),
		FSType: C.GoString(o.fstype), Data: C.GoString(o.data), Flags: uint64(o.flags), Optional: o.optional != 0}
}
