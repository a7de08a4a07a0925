package seccomp

import (
	"errors"
	"fmt"
	"io"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	libseccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// Filter is a compiled profile, ready to load as the last step before exec.
type Filter struct {
	f *libseccomp.ScmpFilter
}

// Compile builds the BPF filter for a profile.
func Compile(p *specs.LinuxSeccomp) (*Filter, error) {
	def, err := action(p.DefaultAction, p.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("seccomp default action: %w", err)
	}
	f, err := libseccomp.NewFilter(def)
	if err != nil {
		return nil, fmt.Errorf("creating seccomp filter: %w", err)
	}
	if err := addArches(f, p.Architectures); err != nil {
		f.Release()
		return nil, err
	}
	// no_new_privs is husk's own decision (--security-opt no-new-privileges),
	// made apart from the filter; libseccomp must not set it for us.
	if err := f.SetNoNewPrivsBit(false); err != nil {
		f.Release()
		return nil, fmt.Errorf("seccomp: clearing the no_new_privs attribute: %w", err)
	}
	for _, sc := range p.Syscalls {
		if err := addSyscalls(f, sc, def); err != nil {
			f.Release()
			return nil, err
		}
	}
	return &Filter{f: f}, nil
}

// Release frees libseccomp's copy of the filter.
func (f *Filter) Release() { f.f.Release() }

func addArches(f *libseccomp.ScmpFilter, arches []specs.Arch) error {
	for _, a := range arches {
		arch, err := libseccomp.GetArchFromString(archName(a))
		if err != nil {
			continue // an architecture this libseccomp does not know
		}
		if err := f.AddArch(arch); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("seccomp: adding architecture %s: %w", a, err)
		}
	}
	return nil
}

// addSyscalls adds one rule group. Names this architecture lacks are
// skipped, as runc does, so one profile serves every architecture.
func addSyscalls(f *libseccomp.ScmpFilter, sc specs.LinuxSyscall, def libseccomp.ScmpAction) error {
	act, err := action(sc.Action, sc.ErrnoRet)
	if err != nil {
		return fmt.Errorf("seccomp rule for %v: %w", sc.Names, err)
	}
	if act == def {
		return nil // libseccomp refuses rules that repeat the default
	}
	conds, err := conditions(sc.Args)
	if err != nil {
		return fmt.Errorf("seccomp rule for %v: %w", sc.Names, err)
	}
	for _, name := range sc.Names {
		call, err := libseccomp.GetSyscallFromName(name)
		if err != nil {
			continue
		}
		if err := addRule(f, call, act, conds); err != nil {
			return fmt.Errorf("seccomp rule for %s: %w", name, err)
		}
	}
	return nil
}

// addRule adds one syscall's rule. Conditions on distinct arguments must all
// hold (one rule); several conditions on the same argument are alternatives
// (one rule each), the OCI meaning that Docker's profile relies on.
func addRule(f *libseccomp.ScmpFilter, call libseccomp.ScmpSyscall, act libseccomp.ScmpAction, conds []libseccomp.ScmpCondition) error {
	if len(conds) == 0 {
		return f.AddRule(call, act)
	}
	if !sameArgTwice(conds) {
		return f.AddRuleConditional(call, act, conds)
	}
	for _, c := range conds {
		if err := f.AddRuleConditional(call, act, []libseccomp.ScmpCondition{c}); err != nil {
			return err
		}
	}
	return nil
}

func sameArgTwice(conds []libseccomp.ScmpCondition) bool {
	seen := map[uint]bool{}
	for _, c := range conds {
		if seen[c.Argument] {
			return true
		}
		seen[c.Argument] = true
	}
	return false
}

// BPF is the filter as the kernel takes it (struct sock_filter[]), so the
// host side can compile once and the init only load.
// libseccomp 2.5 (Debian 12) exports only to a file descriptor: a memfd.
func (f *Filter) BPF() ([]byte, error) {
	fd, err := unix.MemfdCreate("husk-seccomp", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("exporting the seccomp filter: memfd: %w", err)
	}
	mem := os.NewFile(uintptr(fd), "husk-seccomp")
	defer mem.Close()
	if err := f.f.ExportBPF(mem); err != nil {
		return nil, fmt.Errorf("exporting the seccomp filter: %w", err)
	}
	if _, err := mem.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("exporting the seccomp filter: %w", err)
	}
	return io.ReadAll(mem)
}

// CompileBPF compiles a profile straight to the kernel's form: the host
// side compiles, the init only loads.
func CompileBPF(p *specs.LinuxSeccomp) ([]byte, error) {
	f, err := Compile(p)
	if err != nil {
		return nil, err
	}
	defer f.Release()
	return f.BPF()
}
