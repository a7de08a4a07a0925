package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sort"
	"text/tabwriter"
	"time"

	units "github.com/docker/go-units"

	"husk/store"
	"husk/userns"
)

// ImagesCmd is `husk images`.
type ImagesCmd struct {
	All     bool     `short:"a" help:"Show all images (husk keeps no intermediate ones, so the same list)."`
	Filter  []string `short:"f" help:"Filter: dangling=true|false, label=KEY[=VALUE], reference=PATTERN, before=IMAGE, since=IMAGE." placeholder:"KEY=VALUE"`
	Repo    string   `arg:"" optional:"" name:"repository" help:"Only images of REPOSITORY[:TAG] (a pattern, as reference=)."`
	Quiet   bool     `short:"q" help:"Print image IDs only."`
	Digests bool     `help:"Show manifest digests."`
	NoTrunc bool     `name:"no-trunc" help:"Show full image IDs."`
	Format  string   `help:"Go template over .ID .Repository .Tag .Digest .CreatedAt .CreatedSince .Size, or json."`
}

// imageRow is one line of husk images: one name of one image.
type imageRow struct {
	ID           string `header:"IMAGE ID"`
	Repository   string
	Tag          string
	Digest       string
	CreatedAt    string `header:"CREATED AT"`
	CreatedSince string `header:"CREATED"`
	Size         string
	Store        string // "read-only" for an image of HUSK_IMAGE_STORES, else ""
}

// openStore enters husk's namespace and opens the store there.
func openStore(g *Globals) (*store.Store, error) {
	if err := userns.Enter(g.Ctx); err != nil {
		return nil, err
	}
	return store.Open(g.StorageDriver)
}

func (c *ImagesCmd) Run(g *Globals) error {
	s, err := openStore(g)
	if err != nil {
		return err
	}
	defer s.Close()
	images, err := s.Images()
	if err != nil {
		return fmt.Errorf("images: listing the store %s: %w", s.GraphRoot(), err)
	}
	sort.SliceStable(images, func(i, j int) bool { return images[i].Created.After(images[j].Created) })
	f, err := newImageFilter(s, c.Filter, c.Repo)
	if err != nil {
		return err
	}
	var rows []imageRow
	for _, img := range images {
		if !f.image(s, &img) {
			continue
		}
		names := slices.DeleteFunc(slices.Clone(img.Names), func(n string) bool { return !f.name(n) })
		if len(names) == 0 && (len(img.Names) > 0 || f.by["reference"] != nil) {
			continue // by no name the filter takes
		}
		rs := c.rows(img.ID, names, img.Digest.String(), img.Created, s.Size(&img))
		for i := range rs {
			if img.ReadOnly {
				rs[i].Store = "read-only"
			}
		}
		rows = append(rows, rs...)
	}
	sq, err := c.squashRows(f)
	if err != nil {
		return err
	}
	return c.print(g.Stdout, append(rows, sq...))
}

// squashRows are the images of the squashfs stores of HUSK_IMAGE_STORES,
// read-only, newest first. Only reference= filters them: their labels and
// ancestry are inside their files.
func (c *ImagesCmd) squashRows(f *imageFilter) ([]imageRow, error) {
	imgs, err := store.SquashImages()
	if err != nil {
		return nil, fmt.Errorf("images: %w", err)
	}
	sort.SliceStable(imgs, func(i, j int) bool { return imgs[i].Created.After(imgs[j].Created) })
	for k := range f.by {
		if k != "reference" {
			return nil, nil
		}
	}
	var rows []imageRow
	for _, img := range imgs {
		names := slices.DeleteFunc(slices.Clone(img.Names), func(n string) bool { return !f.name(n) })
		if len(names) == 0 && (len(img.Names) > 0 || f.by["reference"] != nil) {
			continue
		}
		rs := c.rows(img.ID, names, "", img.Created, img.Size)
		for i := range rs {
			rs[i].Store = "read-only"
		}
		rows = append(rows, rs...)
	}
	return rows, nil
}

func (c *ImagesCmd) rows(id string, names []string, dig string, created time.Time, size int64) []imageRow {
	if !c.NoTrunc {
		id = id[:12]
	} else {
		id = "sha256:" + id
	}
	base := imageRow{ID: id, Digest: dig, CreatedAt: created.Format("2006-01-02 15:04:05 -0700 MST"),
		CreatedSince: units.HumanDuration(time.Since(created)) + " ago", Size: units.HumanSizeWithPrecision(float64(size), 3)}
	if base.Digest == "" {
		base.Digest = "<none>"
	}
	if len(names) == 0 {
		r := base
		r.Repository, r.Tag = "<none>", "<none>"
		return []imageRow{r}
	}
	var out []imageRow
	for _, n := range names {
		r := base
		r.Repository, r.Tag = store.SplitName(n)
		out = append(out, r)
	}
	return out
}

func (c *ImagesCmd) print(w io.Writer, rows []imageRow) error {
	switch {
	case c.Quiet:
		seen := map[string]bool{}
		for _, r := range rows {
			if !seen[r.ID] {
				seen[r.ID] = true
				fmt.Fprintln(w, r.ID)
			}
		}
		return nil
	case c.Format != "":
		return printFormatted(w, c.Format, rows)
	}
	tw := tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
	// The STORE column shows only when a read-only store is in use.
	ro := slices.ContainsFunc(rows, func(r imageRow) bool { return r.Store != "" })
	head := "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE"
	if c.Digests {
		head = "REPOSITORY\tTAG\tDIGEST\tIMAGE ID\tCREATED\tSIZE"
	}
	if ro {
		head += "\tSTORE"
	}
	fmt.Fprintln(tw, head)
	for _, r := range rows {
		line := fmt.Sprintf("%s\t%s\t%s\t%s\t%s", r.Repository, r.Tag, r.ID, r.CreatedSince, r.Size)
		if c.Digests {
			line = fmt.Sprintf("%s\t%s\t%s\t%s\t%s\t%s", r.Repository, r.Tag, r.Digest, r.ID, r.CreatedSince, r.Size)
		}
		if ro {
			line += "\t" + r.Store
		}
		fmt.Fprintln(tw, line)
	}
	return tw.Flush()
}

// printFormatted is a list's --format: json (one object a line, as
// Docker) or a template.
func printFormatted[T any](w io.Writer, format string, rows []T) error {
	if format != "json" {
		return printTemplate(w, format, rows)
	}
	enc := json.NewEncoder(w)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			return err
		}
	}
	return nil
}

// printInspect is inspect's output: the template per object, or the
// objects as one indented JSON array, as Docker prints them.
// A format that fails on the typed objects is tried again on their JSON
// (as Docker's CLI does), so both {{.ID}} and {{.Id}} work.
func printInspect[T any](w io.Writer, format string, objs []T) error {
	if format != "" {
		err := printTemplate(w, format, objs)
		if err == nil {
			return nil
		}
		var raw []map[string]any
		if b, jerr := json.Marshal(objs); jerr != nil || json.Unmarshal(b, &raw) != nil {
			return err
		}
		if printTemplate(w, format, raw) != nil {
			return err
		}
		return nil
	}
	b, err := json.MarshalIndent(objs, "", "    ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}
