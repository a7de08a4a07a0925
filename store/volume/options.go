package volume

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"husk/sandbox"
)

// checkOptions reads --opt as Docker's local driver takes it: type=tmpfs
// (o= its size= and mode=), or type=bind / type=none with o=bind and
// device= a host directory; no type is a directory of the store's.
func checkOptions(o map[string]string) error {
	for k := range o {
		if k != "type" && k != "device" && k != "o" {
			return fmt.Errorf("unknown volume option %q: use type=tmpfs|bind, device=PATH and o=OPTIONS", k)
		}
	}
	switch kind(o) {
	case "":
		if o["device"] != "" || o["o"] != "" {
			return fmt.Errorf("volume options device= and o= need type=tmpfs or type=bind")
		}
	case "tmpfs":
		_, err := sandbox.TmpfsOp("/v:" + o["o"])
		return err
	case "bind":
		d := o["device"]
		if !filepath.IsAbs(d) {
			return fmt.Errorf("volume option device=%q: a bind volume needs device= an absolute host directory", d)
		}
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() {
			return fmt.Errorf("volume option device=%s: not a directory: create it first", d)
		}
	default:
		return fmt.Errorf("volume option type=%s: husk mounts no filesystems of that type: use type=tmpfs or type=bind", o["type"])
	}
	return nil
}

// kind is the volume's kind: "" (a directory of the store's), tmpfs, bind.
func kind(o map[string]string) string {
	t := o["type"]
	if t == "none" && hasBind(o["o"]) {
		return "bind"
	}
	return t
}

func hasBind(opts string) bool {
	for _, x := range strings.Split(opts, ",") {
		if x == "bind" || x == "rbind" {
			return true
		}
	}
	return false
}

// Mount is the volume mounted at dst, read-only with ro, in OCI form.
func (v *Volume) Mount(dst string, ro bool) (specs.Mount, error) {
	var op sandbox.Op
	switch kind(v.Options) {
	case "tmpfs":
		spec := dst + ":" + v.Options["o"]
		if ro {
			spec += ",ro"
		}
		var err error
		if op, err = sandbox.TmpfsOp(spec); err != nil {
			return specs.Mount{}, fmt.Errorf("volume %s: %w", v.Name, err)
		}
	case "bind":
		op = sandbox.Op{Kind: sandbox.KindBind, Source: v.Options["device"], Target: dst}
	default:
		op = sandbox.Op{Kind: sandbox.KindBind, Source: v.Mountpoint, Target: dst}
	}
	m := sandbox.MountOf(op)
	if ro && op.Kind == sandbox.KindBind {
		m.Options = append(m.Options, "ro")
	}
	return m, nil
}

// Fillable says whether the volume takes the image's content on first
// use: a directory of the store's not filled before.
func (v *Volume) Fillable() bool {
	if kind(v.Options) != "" {
		return false
	}
	_, err := os.Stat(filepath.Join(filepath.Dir(v.Mountpoint), "filled"))
	return os.IsNotExist(err)
}

// MarkFilled records that the volume had its first use.
func (v *Volume) MarkFilled() error {
	return os.WriteFile(filepath.Join(filepath.Dir(v.Mountpoint), "filled"), nil, 0o600)
}
