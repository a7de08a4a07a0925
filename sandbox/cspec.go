package sandbox

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/moby/sys/capability"

	"husk/sandbox/abi"
)

// The C init (package executor's init.c) takes a Spec that the host side
// has completed: no store to open, nothing to parse but a list of
// NUL-terminated tokens, each record a one-letter tag and its fields, in
// the versioned format abi.h defines. It runs before a Go runtime would
// start: every start is planned on the host (start.HostSpec).

// EnvCInit names the descriptor of the encoded spec for the C init.
const EnvCInit = abi.EnvCInit

// opKinds are the C executor's numbers for the operation kinds.
var opKinds = map[Kind]abi.Op{
	KindMount: abi.OpMount, KindBind: abi.OpBind, KindBindDev: abi.OpBindDev, KindMkdir: abi.OpMkdir,
	KindSymlink: abi.OpSymlink, KindMask: abi.OpMask, KindReadonly: abi.OpReadonly, KindFile: abi.OpFile,
	KindFuseOverlay: abi.OpFuseOverlay,
}

// CSpec is what the C init needs beyond the Spec: the image's in-use
// lock to hold, and a directory whose absence means the image went away
// before the lock was taken.
type CSpec struct {
	*Spec
	InUse    string
	ImageDir string
	// StartFIFO: an OCI create's (sandbox.Create): the init waits on it.
	StartFIFO string
	// NetNS: a network namespace the init joins (an OCI bundle's).
	NetNS string
}

type encoder struct {
	bytes.Buffer
	err error
}

func (e *encoder) rec(tag abi.Tag, fields ...string) {
	e.WriteByte(byte(tag))
	e.WriteByte(0)
	for _, f := range fields {
		if e.err == nil && strings.IndexByte(f, 0) >= 0 {
			e.err = fmt.Errorf("%q: a NUL byte cannot be passed to a process", f)
		}
		e.WriteString(f)
		e.WriteByte(0)
	}
}

func (e *encoder) flag(tag abi.Tag, on bool) {
	if on {
		e.rec(tag)
	}
}

func bit(on bool) string {
	if on {
		return "1"
	}
	return "0"
}

func (e *encoder) op(tag abi.Tag, o Op) {
	kind, ok := opKinds[o.Kind]
	if !ok && e.err == nil {
		e.err = fmt.Errorf("setup operation %q on %s: the C init has no such operation: this is husk's own error", o.Kind, o.Target)
	}
	for _, p := range []string{o.Source, o.Target} {
		if len(p) > abi.PathMax && e.err == nil {
			e.err = fmt.Errorf("the path %.64s... is too long (%d bytes): keep it under %d bytes", p, len(p), abi.PathMax)
		}
	}
	e.rec(tag, strconv.Itoa(int(kind)), o.Source, o.Target, o.FSType, strconv.FormatUint(uint64(o.Flags), 10), o.Data, bit(o.Optional))
}

// command is the process's records, shared by the init's spec and exec's.
func (e *encoder) command(s *Spec) {
	for _, a := range s.Args {
		e.rec(abi.TagArg, a)
	}
	for _, v := range s.Env {
		e.rec(abi.TagEnv, v)
	}
}

// confinement is the capabilities kept and the seccomp filter, shared by
// the init's spec and exec's.
func (e *encoder) confinement(s *Spec, caps []capability.Cap) {
	for _, cp := range caps {
		e.rec(abi.TagCap, strconv.Itoa(int(cp)))
	}
	if len(s.SeccompBPF) > 0 {
		e.rec(abi.TagSeccomp, hex.EncodeToString(s.SeccompBPF))
	}
}

// limits are the added groups and the rlimits, set before the exec.
func (e *encoder) limits(s *Spec) {
	if len(s.GroupAdd) > abi.MaxGroups || len(s.Rlimits) > abi.MaxRlimits {
		e.err = fmt.Errorf("more than %d --group-add or %d --ulimit: give fewer", abi.MaxGroups, abi.MaxRlimits)
	}
	for _, g := range s.GroupAdd {
		e.rec(abi.TagGroupAdd, g)
	}
	for _, r := range s.Rlimits {
		e.rec(abi.TagRlimit, strconv.Itoa(r.Resource), strconv.FormatUint(r.Soft, 10), strconv.FormatUint(r.Hard, 10))
	}
}

// Encode turns c into the C init's input.
func (c *CSpec) Encode() ([]byte, error) {
	s := c.Spec
	caps, err := ParseCaps(s.Caps)
	if err != nil {
		return nil, err
	}
	var e encoder
	e.rec(abi.TagVersion, strconv.Itoa(abi.SpecVersion))
	e.rec(abi.TagHostname, s.Hostname)
	e.rec(abi.TagCwd, s.Cwd)
	e.rec(abi.TagUser, s.User)
	e.rec(abi.TagScratch, s.Scratch)
	e.rec(abi.TagInUse, c.InUse)
	e.rec(abi.TagImageDir, c.ImageDir)
	e.command(s)
	e.flag(abi.TagKeepID, s.KeepID)
	e.flag(abi.TagNoSetgroups, s.NoSetGroups)
	e.flag(abi.TagLoopback, s.Loopback)
	e.flag(abi.TagReadOnly, s.ReadOnly)
	e.flag(abi.TagNoNewPrivs, s.NoNewPrivs)
	e.flag(abi.TagTerminal, s.Terminal)
	e.flag(abi.TagHold, s.Hold)
	for _, o := range s.RootOps {
		e.op(abi.TagRootOp, o)
	}
	for _, f := range s.Files {
		e.rec(abi.TagFile, f.Path, f.Content)
	}
	for _, o := range s.Ops(s.Scratch) {
		e.op(abi.TagOp, o)
	}
	e.confinement(s, caps)
	e.limits(s)
	e.hooks(s)
	if len(s.Sysctls) > abi.MaxSysctls {
		return nil, fmt.Errorf("more than %d sysctls: give fewer", abi.MaxSysctls)
	}
	for _, kv := range s.Sysctls {
		k, v, _ := strings.Cut(kv, "=")
		e.rec(abi.TagSysctl, k, v)
	}
	if c.NetNS != "" {
		e.rec(abi.TagNetNS, c.NetNS)
	}
	if c.StartFIFO != "" {
		e.rec(abi.TagStartFIFO, c.StartFIFO)
	}
	if n := s.Net; n != nil {
		cfg, err := n.Config.WithDefaults()
		if err != nil {
			return nil, err
		}
		mask := net.IP(net.CIDRMask(cfg.Subnet.Bits(), 32)).String()
		e.rec(abi.TagNet, n.Mode, cfg.TapName, cfg.IP.String(), mask, cfg.Gateway.String(), strconv.Itoa(cfg.MTU),
			bit(n.Dials), bit(n.DirectPorts), cfg.MAC().String())
	}
	if e.err != nil {
		return nil, e.err
	}
	return e.Bytes(), nil
}

// EncodeExec turns s's process into exec's input: an exec spec (abi.h),
// the process alone, which the C exec entry starts inside a running
// container with the init's own functions. watchBinds has it send its
// bind listener on abi.FdExecBinds (port_handler=direct).
func (s *Spec) EncodeExec(watchBinds bool) ([]byte, error) {
	caps, err := ParseCaps(s.Caps)
	if err != nil {
		return nil, err
	}
	var e encoder
	e.rec(abi.TagVersion, strconv.Itoa(abi.SpecVersion))
	e.rec(abi.TagExec)
	e.rec(abi.TagCwd, s.Cwd)
	e.rec(abi.TagUser, s.User)
	e.command(s)
	e.flag(abi.TagKeepID, s.KeepID)
	e.flag(abi.TagNoSetgroups, s.NoSetGroups)
	e.flag(abi.TagNoNewPrivs, s.NoNewPrivs)
	e.flag(abi.TagTerminal, s.Terminal)
	e.flag(abi.TagHold, s.Hold)
	e.confinement(s, caps)
	e.limits(s)
	e.flag(abi.TagWatchBinds, watchBinds)
	if e.err != nil {
		return nil, e.err
	}
	return e.Bytes(), nil
}
