package cli

import (
	"fmt"
	"path/filepath"
	"strings"

	"husk/sandbox"
	"husk/store/volume"
)

// parseMount is --mount type=volume|bind|tmpfs,src=,dst=,... as Docker
// reads it (type=volume when none is given).
func parseMount(spec string) (volReq, error) {
	kv := map[string]string{"type": "volume"}
	ro := false
	for _, f := range strings.Split(spec, ",") {
		k, v, hasV := strings.Cut(f, "=")
		switch k {
		case "source", "src":
			k = "src"
		case "destination", "dst", "target":
			k = "dst"
		case "readonly", "ro":
			ro = !hasV || v == "true" || v == "1"
			continue
		case "volume-nocopy":
			if !hasV {
				v = "true"
			}
		case "type", "tmpfs-size", "tmpfs-mode", "bind-propagation", "consistency":
		default:
			return volReq{}, fmt.Errorf("--mount %q: unknown key %q: use type, src, dst, readonly, volume-nocopy, tmpfs-size or tmpfs-mode", spec, k)
		}
		kv[k] = v
	}
	dst := kv["dst"]
	if !filepath.IsAbs(dst) || filepath.Clean(dst) == "/" {
		return volReq{}, fmt.Errorf("--mount %q: dst= must be an absolute container path other than /", spec)
	}
	dst = filepath.Clean(dst)
	switch kv["type"] {
	case "volume":
		r := volReq{VolumeRef: sandbox.VolumeRef{Name: kv["src"], Destination: dst, ReadOnly: ro,
			NoCopy: kv["volume-nocopy"] == "true" || kv["volume-nocopy"] == "1", Anonymous: kv["src"] == ""}}
		if !r.Anonymous {
			if err := volume.CheckName(r.Name); err != nil {
				return r, fmt.Errorf("--mount %q: %w", spec, err)
			}
		}
		return r, nil
	case "bind":
		arg := kv["src"] + ":" + dst
		if ro {
			arg += ":ro"
		}
		return mountOp(spec, arg, sandbox.VolumeOp)
	case "tmpfs":
		var opts []string
		if s := kv["tmpfs-size"]; s != "" {
			opts = append(opts, "size="+s)
		}
		if m := kv["tmpfs-mode"]; m != "" {
			opts = append(opts, "mode="+m)
		}
		if ro {
			opts = append(opts, "ro")
		}
		return mountOp(spec, dst+":"+strings.Join(opts, ","), sandbox.TmpfsOp)
	}
	return volReq{}, fmt.Errorf("--mount %q: unknown type %q: use volume, bind or tmpfs", spec, kv["type"])
}

func mountOp(spec, arg string, fn func(string) (sandbox.Op, error)) (volReq, error) {
	op, err := fn(arg)
	if err != nil {
		return volReq{}, fmt.Errorf("--mount %q: %w", spec, err)
	}
	m := sandbox.MountOf(op)
	return volReq{mount: &m}, nil
}
