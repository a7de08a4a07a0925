package cli

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"syscall"

	units "github.com/docker/go-units"

	"husk/store/container"
)

// SystemDfCmd is `husk system df`: what images and containers take on
// disk, and what removing the unused ones would give back.
type SystemDfCmd struct {
	Format string `help:"Go template per row (.Type .TotalCount .Active .Size .Reclaimable), 'table TEMPLATE', or json."`
}

// dfRow has Docker's field names, for --format.
type dfRow struct {
	Type        string
	TotalCount  string `header:"TOTAL"`
	Active      string
	Size        string
	Reclaimable string
}

const dfTable = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"

func (c *SystemDfCmd) Run(g *Globals) error {
	s, err := openStore(g)
	if err != nil {
		return err
	}
	defer s.Close()
	cs, err := container.OpenDefault()
	if err != nil {
		return err
	}
	cts, err := cs.List()
	if err != nil {
		return err
	}
	imgs, err := s.Images()
	if err != nil {
		return fmt.Errorf("system df: listing the store %s: %w", s.GraphRoot(), err)
	}
	used := map[string]bool{}
	var cTotal, cFree int64
	active := 0
	for _, ct := range cts {
		used[ct.Config.ImageID] = true
		n := diskUsage(ct.Dir())
		cTotal += n
		if ct.Live() {
			active++
		} else {
			cFree += n
		}
	}
	var iTotal, iFree int64
	iActive := 0
	for i := range imgs {
		n := s.Size(&imgs[i])
		iTotal += n
		if used[imgs[i].ID] {
			iActive++
		} else {
			iFree += n
		}
	}
	rows := []dfRow{
		newDfRow("Images", len(imgs), iActive, iTotal, iFree),
		newDfRow("Containers", len(cts), active, cTotal, cFree),
		volumesDfRow(),
		newDfRow("Build Cache", 0, 0, 0, 0),
	}
	format := c.Format
	if format == "" {
		format = dfTable
	}
	return printFormatted(g.Stdout, format, rows)
}

func newDfRow(kind string, total, active int, size, free int64) dfRow {
	r := dfRow{Type: kind, TotalCount: strconv.Itoa(total), Active: strconv.Itoa(active),
		Size: units.HumanSizeWithPrecision(float64(size), 3), Reclaimable: units.HumanSizeWithPrecision(float64(free), 3)}
	if size > 0 {
		r.Reclaimable += fmt.Sprintf(" (%d%%)", free*100/size)
	}
	return r
}

// diskUsage is what the files under dir take, as du counts it: allocated
// blocks, each inode once.
func diskUsage(dir string) int64 {
	var n int64
	seen := map[uint64]bool{}
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if fi, err := d.Info(); err == nil {
			if st, ok := statOf(fi); ok && !seen[st.Ino] {
				seen[st.Ino] = true
				n += st.Blocks * 512
			}
		}
		return nil
	})
	return n
}

func statOf(fi fs.FileInfo) (*syscall.Stat_t, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return st, ok
}

// volumesDfRow counts the volumes, those in use by a container active.
func volumesDfRow() dfRow {
	vs, users, err := openVolumes()
	if err != nil {
		return newDfRow("Local Volumes", 0, 0, 0, 0)
	}
	all, _ := vs.List()
	var total, free int64
	active := 0
	for _, v := range all {
		n := diskUsage(v.Mountpoint)
		total += n
		if len(users[v.Name]) > 0 {
			active++
		} else {
			free += n
		}
	}
	return newDfRow("Local Volumes", len(all), active, total, free)
}
