package start

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"husk/sandbox"
	"husk/store"
	"husk/store/container"
	"husk/store/volume"
	"husk/userns"
)

// volumes mounts an anonymous volume of the container's own at each of
// the image's VOLUMEs that nothing else is mounted at (Docker's rule), and
// fills the container's new volumes from the image (copy-up) once, before
// their first use. The image is known only here for a foreground run, so
// this is done at start; the names are fixed by the container and the
// path, so that every start mounts the same volumes.
func (hl *HostLaunch) volumes(ctx context.Context, p *store.ResolvedImage, rec *Record, o *sandbox.RunOptions) error {
	cfg := rec.Config
	var fills []sandbox.VolumeRef
	for _, v := range cfg.Volumes {
		if !v.NoCopy {
			fills = append(fills, v)
		}
	}
	dests := imageVolumes(p, cfg)
	if len(dests) == 0 && len(cfg.Volumes) == 0 {
		return nil
	}
	hl.noReuse = true
	vs, err := volume.Open()
	if err != nil {
		return err
	}
	for _, d := range dests {
		v, _, err := vs.Create(volume.Spec{Name: anonName(rec.ID, d), Anonymous: true, Owner: rec.ID, Dest: d})
		if err != nil {
			return err
		}
		m, err := v.Mount(d, false)
		if err != nil {
			return err
		}
		o.Volumes = append(o.Volumes, sandbox.OpOf(m))
		fills = append(fills, sandbox.VolumeRef{Name: v.Name, Destination: d})
	}
	for _, f := range fills {
		if hl.file != "" {
			break // a squashfs file's image is not in the store: its volumes start empty
		}
		if err := hl.fill(ctx, vs, p.ImageID, f); err != nil {
			return err
		}
	}
	return nil
}

// imageVolumes are the image's VOLUMEs no mount of the config covers.
func imageVolumes(p *store.ResolvedImage, cfg *sandbox.Config) []string {
	covered := map[string]bool{}
	for _, m := range cfg.OCI.Mounts {
		covered[filepath.Clean(m.Destination)] = true
	}
	var out []string
	for d := range p.Config.Volumes {
		if d = filepath.Clean(d); filepath.IsAbs(d) && d != "/" && !covered[d] {
			out = append(out, d)
		}
	}
	sort.Strings(out)
	return out
}

// anonName is the anonymous volume of container id's image VOLUME dest.
func anonName(id, dest string) string {
	sum := sha256.Sum256([]byte(id + "\x00" + dest))
	return hex.EncodeToString(sum[:])
}

// fill copies the image's content at f's path into f's volume, if the
// volume has never been used, in husk's user namespace (volume.CallFill).
func (hl *HostLaunch) fill(ctx context.Context, vs *volume.Store, imageID string, f sandbox.VolumeRef) error {
	v, err := vs.Get(f.Name)
	if err != nil {
		return fmt.Errorf("volume %s of the container: %w: create it again (husk volume create %s)", f.Name, err, f.Name)
	}
	if !v.Fillable() {
		return nil
	}
	var errb strings.Builder
	code, err := userns.CallWith(ctx, io.Discard, &errb, volume.CallFill, hl.driver, imageID, f.Destination, f.Name)
	if err == nil && code != 0 {
		err = fmt.Errorf("%s", strings.TrimPrefix(strings.TrimSpace(errb.String()), "husk: "))
	}
	return err
}

// hasVolumes says whether a container may have anonymous volumes: its
// config's, or those made for its image's VOLUMEs at its start.
func hasVolumes(ct *container.Container) bool {
	for _, v := range ct.Config.Volumes {
		if v.Anonymous {
			return true
		}
	}
	vs, err := volume.Open()
	if err != nil {
		return false
	}
	all, _ := vs.List()
	for _, v := range all {
		if v.Owner == ct.ID {
			return true
		}
	}
	return false
}
