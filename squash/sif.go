package squash

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"

	"github.com/apptainer/sif/v2/pkg/sif"
	"github.com/diskfs/go-diskfs/filesystem/squashfs"
)

// An Apptainer (Singularity) SIF file is run from its primary system
// partition, a squashfs at some offset in the file: it is read there, in
// place, as a plain squashfs file is. Only its root filesystem is used:
// the image's /.singularity.d/env scripts are not run (a SIF keeps its
// environment as shell scripts, not data), its signatures are not
// verified, and its labels and runscript are taken as sifDefaults says.

// sifMagic is where a SIF file says it is one: after its launch line.
const (
	sifMagic       = "SIF_MAGIC\x00"
	sifMagicOffset = 32
)

// region is where in a file its squashfs lies.
type region struct{ off, size int64 }

// locate is the squashfs in f: the whole file, or a SIF's primary system
// partition; anything else is refused in one line naming it and the fix.
func locate(f *os.File, name string) (region, error) {
	st, err := f.Stat()
	if err != nil {
		return region{}, fmt.Errorf("running %s: %w", name, err)
	}
	head := make([]byte, sifMagicOffset+len(sifMagic))
	n, _ := f.ReadAt(head, 0)
	if n >= 4 && string(head[:4]) == "hsqs" {
		return region{0, st.Size()}, nil
	}
	if n == len(head) && string(head[sifMagicOffset:]) == sifMagic {
		return sifPartition(f, name)
	}
	return region{}, fmt.Errorf("running %s: not a squashfs or SIF file (no hsqs or SIF_MAGIC magic): make one with husk image squash or mksquashfs", name)
}

// sifPartition is the SIF's primary system partition, which must be an
// unencrypted squashfs.
func sifPartition(f *os.File, name string) (region, error) {
	img, err := sif.LoadContainer(f, sif.OptLoadWithCloseOnUnload(false))
	if err != nil {
		return region{}, fmt.Errorf("running %s: reading it as a SIF: %w: build it again (apptainer build)", name, err)
	}
	defer func() { _ = img.UnloadContainer() }()
	d, err := img.GetDescriptor(sif.WithPartitionType(sif.PartPrimSys))
	if err != nil {
		return region{}, fmt.Errorf("running %s: a SIF with no system partition (it holds %s): husk runs a SIF's squashfs partition only: build it with apptainer build, or make a squashfs with husk image squash", name, sifHolds(img))
	}
	fsType, _, _, err := d.PartitionMetadata()
	if err != nil {
		return region{}, fmt.Errorf("running %s: reading its system partition: %w: build it again (apptainer build)", name, err)
	}
	switch fsType {
	case sif.FsSquash:
	case sif.FsEncryptedSquashfs:
		return region{}, fmt.Errorf("running %s: its system partition is encrypted: husk does not decrypt SIF partitions: build it unencrypted, or run it with apptainer", name)
	case sif.FsExt3:
		return region{}, fmt.Errorf("running %s: its system partition is ext3 (a writable image), not squashfs: convert it (apptainer build new.sif %s)", name, name)
	default:
		return region{}, fmt.Errorf("running %s: its system partition is %s, not squashfs: build it again with apptainer build", name, fsType)
	}
	magic := make([]byte, 4)
	if _, err := f.ReadAt(magic, d.Offset()); err != nil || string(magic) != "hsqs" {
		return region{}, fmt.Errorf("running %s: its squashfs partition has no hsqs magic: build it again (apptainer build)", name)
	}
	return region{d.Offset(), d.Size()}, nil
}

// sifHolds names the kinds of object in a SIF, for the line refusing it.
func sifHolds(img *sif.FileImage) string {
	var kinds []string
	img.WithDescriptors(func(d sif.Descriptor) bool {
		k := d.DataType().String()
		if d.DataType() == sif.DataPartition {
			if _, pt, _, err := d.PartitionMetadata(); err == nil {
				k += " (" + pt.String() + ")"
			}
		}
		if !slices.Contains(kinds, k) {
			kinds = append(kinds, k)
		}
		return false
	})
	if len(kinds) == 0 {
		return "nothing"
	}
	s := kinds[0]
	for _, k := range kinds[1:] {
		s += ", " + k
	}
	return s
}

// sifDefaults fills a SIF's config, which it does not carry as husk's
// files do: its runscript, when it has one, is the command (as apptainer
// run), else /bin/sh; /.singularity.d/labels.json gives its labels.
func sifDefaults(sq *squashfs.FileSystem, img *Image) {
	if st, err := sq.Stat(".singularity.d/runscript"); err == nil && st.Mode().IsRegular() {
		img.Config.Cmd = []string{"/.singularity.d/runscript"}
	}
	b, err := sq.ReadFile(".singularity.d/labels.json")
	if err != nil {
		return
	}
	var labels map[string]string
	if json.Unmarshal(b, &labels) == nil {
		img.Config.Labels = labels
	}
}
