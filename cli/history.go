package cli

import (
	"bytes"
	"fmt"
	"io"
	"time"

	units "github.com/docker/go-units"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	storage "go.podman.io/storage"

	"husk/store"
)

// HistoryCmd is `husk history`.
type HistoryCmd struct {
	Human   bool   `short:"H" default:"true" negatable:"" help:"Print sizes and dates in human-readable form."`
	NoTrunc bool   `name:"no-trunc" help:"Do not truncate the output."`
	Quiet   bool   `short:"q" help:"Print image IDs only."`
	Format  string `help:"Go template over .ID .CreatedSince .CreatedAt .CreatedBy .Size .Comment, or json."`
	Image   string `arg:"" help:"Image name or ID."`
}

// historyRow is one step of the image's history, newest first.
type historyRow struct {
	ID           string `header:"IMAGE"`
	CreatedSince string `header:"CREATED"`
	CreatedAt    string `header:"CREATED AT"`
	CreatedBy    string `header:"CREATED BY"`
	Size         string
	Comment      string
}

func (c *HistoryCmd) Run(g *Globals) error {
	s, err := openStore(g)
	if err != nil {
		return err
	}
	defer s.Close()
	img, err := s.Lookup(c.Image)
	if err != nil {
		return fmt.Errorf("history %s: %w", c.Image, err)
	}
	rows, err := c.rows(s, img)
	if err != nil {
		return fmt.Errorf("history %s: %w", c.Image, err)
	}
	return c.print(g.Stdout, rows)
}

// rows pairs the config's history with the image's layers: each step
// that made a layer gets that layer's size. Only the newest step is the
// image itself; Docker shows the others as <missing>.
func (c *HistoryCmd) rows(s *store.Store, img *storage.Image) ([]historyRow, error) {
	raw, err := s.Config(img)
	if err != nil {
		return nil, err
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing the config of image %.12s: %w: pull the image again", img.ID, err)
	}
	sizes := layerSizes(s, img)
	hist := cfg.History
	if len(hist) == 0 { // no history written: one step per layer
		for range sizes {
			hist = append(hist, v1.History{Created: cfg.Created})
		}
	}
	var rows []historyRow
	layer := 0
	for _, h := range hist {
		var size int64
		if !h.EmptyLayer && layer < len(sizes) {
			size = sizes[layer]
			layer++
		}
		rows = append([]historyRow{c.row(h, size)}, rows...)
	}
	for i := range rows {
		rows[i].ID = "<missing>"
	}
	if len(rows) > 0 {
		rows[0].ID = c.id(img.ID)
	}
	return rows, nil
}

func (c *HistoryCmd) id(id string) string {
	if c.NoTrunc {
		return "sha256:" + id
	}
	return id[:12]
}

func (c *HistoryCmd) row(h v1.History, size int64) historyRow {
	r := historyRow{CreatedBy: h.CreatedBy, Comment: h.Comment, CreatedAt: h.Created.Format(time.RFC3339)}
	if c.Human {
		r.CreatedSince = units.HumanDuration(time.Since(h.Created.Time)) + " ago"
		r.Size = units.HumanSizeWithPrecision(float64(size), 3)
	} else {
		r.CreatedSince = r.CreatedAt
		r.Size = fmt.Sprint(size)
	}
	if h.Created.IsZero() {
		r.CreatedSince, r.CreatedAt = "N/A", "N/A"
	}
	if !c.NoTrunc && len([]rune(r.CreatedBy)) > 45 {
		r.CreatedBy = string([]rune(r.CreatedBy)[:44]) + "…"
	}
	return r
}

// layerSizes are the unpacked sizes of the image's layers, bottom first.
func layerSizes(s *store.Store, img *storage.Image) []int64 {
	var out []int64
	for id := img.TopLayer; id != ""; {
		l, err := s.Layer(id)
		if err != nil {
			break
		}
		out = append([]int64{max(l.UncompressedSize, 0)}, out...)
		id = l.Parent
	}
	return out
}

const historyTable = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"

func (c *HistoryCmd) print(w io.Writer, rows []historyRow) error {
	return printRows(w, c.Quiet, c.Format, historyTable, rows, func(r historyRow) string { return r.ID })
}
