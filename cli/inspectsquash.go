package cli

import (
	"husk/squash"
	"husk/store"
)

// describeSquash is inspect's view of an image of a squashfs store
// (HUSK_IMAGE_STORES): what `run NAME` would run, as run finds it, so
// before the user's own store.
func describeSquash(sq *store.SquashImage) (*inspectImage, error) {
	img, err := squash.Load(sq.Path())
	if err != nil {
		return nil, err
	}
	ii := &inspectImage{Id: "sha256:" + sq.ID, RepoTags: append([]string{}, sq.Names...), RepoDigests: []string{},
		Size: sq.Size, RootFS: inspectRootFS{Type: "layers", Layers: []string{}}}
	ii.Config = inspectConfigOf(img.Config)
	if cf := img.ConfigFile; cf != nil {
		ii.Created = cf.Created.UTC().Format("2006-01-02T15:04:05.999999999Z")
		ii.Architecture, ii.Os, ii.Variant = cf.Architecture, cf.OS, cf.Variant
		for _, d := range cf.RootFS.DiffIDs {
			ii.RootFS.Layers = append(ii.RootFS.Layers, d.String())
		}
	}
	return ii, nil
}
