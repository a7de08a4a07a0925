package squash

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/apptainer/sif/v2/pkg/sif"
)

// makeSIF writes a SIF at path holding one partition of data with the
// given file system type, after a definition file object (so that the
// partition does not start the data area).
func makeSIF(t *testing.T, path string, data []byte, fs sif.FSType, pt sif.PartType) {
	t.Helper()
	def, err := sif.NewDescriptorInput(sif.DataDeffile, strings.NewReader("Bootstrap: scratch\n"))
	if err != nil {
		t.Fatal(err)
	}
	dis := []sif.DescriptorInput{def}
	if data != nil {
		part, err := sif.NewDescriptorInput(sif.DataPartition, bytes.NewReader(data),
			sif.OptPartitionMetadata(fs, pt, runtime.GOARCH))
		if err != nil {
			t.Fatal(err)
		}
		dis = append(dis, part)
	}
	img, err := sif.CreateContainerAtPath(path, sif.OptCreateWithDescriptors(dis...))
	if err != nil {
		t.Fatal(err)
	}
	if err := img.UnloadContainer(); err != nil {
		t.Fatal(err)
	}
}

// A SIF's squashfs partition is read in place: its files, its runscript
// as the command, its labels.
func TestSIFLoad(t *testing.T) {
	tmp := t.TempDir()
	root := filepath.Join(tmp, "root")
	for p, data := range map[string]string{
		"etc/hello": "from the sif\n", ".singularity.d/runscript": "#!/bin/sh\necho run\n",
		".singularity.d/labels.json": `{"org.label-schema.name":"t"}`,
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), []byte(data), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	sqsh := filepath.Join(tmp, "root.sqsh")
	t.Setenv("TMPDIR", tmp)
	if _, err := writeGo(root, tmp, sqsh); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(sqsh)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(tmp, "img.sif")
	makeSIF(t, file, data, sif.FsSquash, sif.PartPrimSys)
	img, err := Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if len(img.Config.Cmd) != 1 || img.Config.Cmd[0] != "/.singularity.d/runscript" || img.Config.Labels["org.label-schema.name"] != "t" {
		t.Errorf("SIF config: %+v", img.Config)
	}
	sq, f, isSIF, err := open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if b, err := sq.ReadFile("etc/hello"); !isSIF || err != nil || string(b) != "from the sif\n" {
		t.Errorf("reading in the SIF's partition: %q, %v (isSIF %v)", b, err, isSIF)
	}
}

// What a SIF holds that husk cannot run is refused, naming it.
func TestSIFRefuses(t *testing.T) {
	tmp := t.TempDir()
	sq := append([]byte("hsqs"), make([]byte, 4092)...)
	for name, c := range map[string]struct {
		data []byte
		fs   sif.FSType
		pt   sif.PartType
		want string
	}{
		"none.sif":  {nil, 0, 0, "no system partition (it holds Def.FILE)"},
		"data.sif":  {sq, sif.FsSquash, sif.PartData, "no system partition"},
		"ext3.sif":  {make([]byte, 4096), sif.FsExt3, sif.PartPrimSys, "ext3"},
		"crypt.sif": {make([]byte, 4096), sif.FsEncryptedSquashfs, sif.PartPrimSys, "encrypted"},
		"junk.sif":  {make([]byte, 4096), sif.FsSquash, sif.PartPrimSys, "no hsqs magic"},
	} {
		file := filepath.Join(tmp, name)
		makeSIF(t, file, c.data, c.fs, c.pt)
		_, err := Check(file)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Check(%s): %v, want one line with %q", name, err, c.want)
		}
	}
}
