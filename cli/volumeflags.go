package cli

import (
	"fmt"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"

	"husk/sandbox"
	"husk/store/container"
	"husk/store/volume"
)

// VolumeFlags are run's and create's volume flags beyond -v and --tmpfs.
type VolumeFlags struct {
	Mount       []string `help:"Mount a volume, bind or tmpfs: type=volume|bind|tmpfs,src=,dst=[,readonly][,volume-nocopy]." placeholder:"type=TYPE,src=SRC,dst=DST"`
	VolumesFrom []string `name:"volumes-from" help:"Mount the volumes and binds of another container: CONTAINER[:ro|rw]." placeholder:"CONTAINER[:ro|rw]"`
}

// volReq is one volume to mount, before it exists.
type volReq struct {
	sandbox.VolumeRef
	mount *specs.Mount // a bind or tmpfs that is no volume
}

// isHostBind says whether -v's spec is a host path bind (VolumeOp's).
func isHostBind(spec string) bool {
	src, _, ok := strings.Cut(spec, ":")
	return ok && filepath.IsAbs(src)
}

// volumes resolves -v NAME:/path and -v /path, --mount and --volumes-from
// into c's mounts, creating the named volumes missing and the anonymous
// ones, once the rest of the flags were found good.
func (f *ContainerFlags) volumes(c *sandbox.Config) error {
	var reqs []volReq
	for _, v := range f.Volume {
		if isHostBind(v) {
			continue // mounts() has it
		}
		r, err := parseVolumeFlag(v)
		if err != nil {
			return err
		}
		reqs = append(reqs, r)
	}
	for _, m := range f.Mount {
		r, err := parseMount(m)
		if err != nil {
			return err
		}
		reqs = append(reqs, r)
	}
	from, err := volumesFrom(f.VolumesFrom)
	if err != nil {
		return err
	}
	reqs = append(reqs, from...)
	if err := checkDuplicates(c.OCI.Mounts, reqs); err != nil {
		return err
	}
	return createVolumes(c, reqs)
}

// parseVolumeFlag is -v NAME:/path[:OPTS] or -v /path.
func parseVolumeFlag(spec string) (volReq, error) {
	parts := strings.Split(spec, ":")
	r := volReq{}
	switch len(parts) {
	case 1:
		r.Destination, r.Anonymous = parts[0], true
	case 2, 3:
		r.Name, r.Destination = parts[0], parts[1]
		if err := volume.CheckName(r.Name); err != nil {
			return r, fmt.Errorf("-v %q: %w (or give an absolute host path)", spec, err)
		}
	default:
		return r, fmt.Errorf("-v %q: use NAME:/PATH[:ro], HOST:/PATH[:ro] or /PATH", spec)
	}
	if !filepath.IsAbs(r.Destination) || filepath.Clean(r.Destination) == "/" {
		return r, fmt.Errorf("-v %q: the container path must be absolute and not /: use HOST:CONTAINER[:ro], NAME:CONTAINER or /CONTAINER, e.g. /data", spec)
	}
	if len(parts) == 3 {
		for _, o := range strings.Split(parts[2], ",") {
			switch o {
			case "ro":
				r.ReadOnly = true
			case "nocopy":
				r.NoCopy = true
			case "rw", "z", "Z", "copy", "private", "rprivate":
			default:
				return r, fmt.Errorf("-v %q: unknown option %q: use ro, rw or nocopy, comma-separated", spec, o)
			}
		}
	}
	r.Destination = filepath.Clean(r.Destination)
	return r, nil
}

func checkDuplicates(mounts []specs.Mount, reqs []volReq) error {
	seen := map[string]bool{}
	for _, m := range mounts {
		seen[filepath.Clean(m.Destination)] = true
	}
	for _, r := range reqs {
		d := r.Destination
		if r.mount != nil {
			d = r.mount.Destination
		}
		if seen[d] {
			return fmt.Errorf("duplicate mount point %s: mount one thing there", d)
		}
		seen[d] = true
	}
	return nil
}

// createVolumes makes the volumes missing and adds every request to c.
func createVolumes(c *sandbox.Config, reqs []volReq) error {
	if len(reqs) == 0 {
		return nil
	}
	vs, err := volume.Open()
	if err != nil {
		return err
	}
	for _, r := range reqs {
		if r.mount != nil {
			c.OCI.Mounts = append(c.OCI.Mounts, *r.mount)
			continue
		}
		v, _, err := vs.Create(volume.Spec{Name: r.Name, Anonymous: r.Anonymous})
		if err != nil {
			return err
		}
		m, err := v.Mount(r.Destination, r.ReadOnly)
		if err != nil {
			return err
		}
		r.Name = v.Name
		c.OCI.Mounts = append(c.OCI.Mounts, m)
		c.Volumes = append(c.Volumes, r.VolumeRef)
	}
	return nil
}

// volumesFrom is --volumes-from: each named container's volumes and binds,
// read-only when it says :ro or the source mounted them so.
func volumesFrom(list []string) ([]volReq, error) {
	if len(list) == 0 {
		return nil, nil
	}
	cs, err := container.OpenDefault()
	if err != nil {
		return nil, err
	}
	var out []volReq
	for _, spec := range list {
		name, mode, _ := strings.Cut(spec, ":")
		if mode != "" && mode != "ro" && mode != "rw" {
			return nil, fmt.Errorf("--volumes-from %q: unknown mode %q: use CONTAINER, CONTAINER:ro or CONTAINER:rw", spec, mode)
		}
		ct, err := cs.Find(name)
		if err != nil {
			return nil, fmt.Errorf("--volumes-from %s: %w: see 'husk ps -a'", name, err)
		}
		reqs, err := fromMounts(ct, mode)
		if err != nil {
			return nil, err
		}
		out = append(out, reqs...)
	}
	return out, nil
}

// fromMounts are ct's volumes (those of its image's VOLUMEs too) and binds.
func fromMounts(ct *container.Container, mode string) ([]volReq, error) {
	var out []volReq
	named := map[string]bool{}
	for _, v := range ct.Config.Volumes {
		named[v.Destination] = true
		v.Anonymous = false // the source's, not this container's
		v.ReadOnly = mode == "ro" || (mode == "" && v.ReadOnly)
		out = append(out, volReq{VolumeRef: v})
	}
	for _, m := range ct.Config.OCI.Mounts {
		if m.Type == "bind" && !named[m.Destination] {
			m := m
			if mode == "ro" {
				m.Options = append(m.Options, "ro")
			}
			out = append(out, volReq{mount: &m})
		}
	}
	vs, err := volume.Open()
	if err != nil {
		return nil, err
	}
	all, err := vs.List()
	if err != nil {
		return nil, err
	}
	for _, v := range all {
		if v.Owner == ct.ID && !named[v.Dest] {
			out = append(out, volReq{VolumeRef: sandbox.VolumeRef{Name: v.Name, Destination: v.Dest, ReadOnly: mode == "ro"}})
		}
	}
	return out, nil
}
