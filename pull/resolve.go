package pull

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	digest "github.com/opencontainers/go-digest"

	"husk/store"
)

// ParsePlatform reads os/arch[/variant]; "" is the host's platform.
func ParsePlatform(s string) (v1.Platform, error) {
	if s == "" {
		p := v1.Platform{OS: "linux", Architecture: runtime.GOARCH}
		if p.Architecture == "arm" {
			p.Variant = "v7"
		}
		return p, nil
	}
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return v1.Platform{}, fmt.Errorf("parsing platform %q: want os/arch or os/arch/variant, e.g. linux/arm64 or linux/arm/v7", s)
	}
	p := v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

// resolveImage picks the image for platform from an index, or returns the
// image itself when the reference names one.
func resolveImage(desc *remote.Descriptor, platform v1.Platform) (v1.Image, error) {
	if !desc.MediaType.IsIndex() {
		img, err := desc.Image()
		if err == nil {
			// Parsed now, so that a broken one is named as such.
			_, err = img.Manifest()
		}
		return img, err
	}
	idx, err := desc.ImageIndex()
	if err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	var have []string
	for _, m := range im.Manifests {
		if m.Platform == nil || !m.MediaType.IsImage() {
			continue
		}
		if platformMatches(*m.Platform, platform) {
			return idx.Image(m.Digest)
		}
		have = append(have, m.Platform.String())
	}
	return nil, fmt.Errorf("no image for platform %s in the index (it has %s): pass --platform with one of those",
		platform.String(), strings.Join(have, ", "))
}

// platformMatches is Docker's rule: os and architecture equal; a variant
// asked for must be equal; arm64's variant v8 is its default.
func platformMatches(have, want v1.Platform) bool {
	if have.OS != want.OS || have.Architecture != want.Architecture {
		return false
	}
	if want.Variant == "" || have.Variant == want.Variant {
		return true
	}
	return want.Architecture == "arm64" && have.Variant == "" && want.Variant == "v8"
}

// layerInfos pairs the manifest's blobs with the config's diff IDs and
// computes each layer's chain ID, its ID in the store: the same layer on
// the same parents is stored once, whichever image brought it.
func layerInfos(m *v1.Manifest, cfg *v1.ConfigFile) ([]store.LayerInfo, error) {
	if len(m.Layers) != len(cfg.RootFS.DiffIDs) {
		return nil, fmt.Errorf("the manifest lists %d layers but the config %d: the image is malformed: push it again", len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	out := make([]store.LayerInfo, len(m.Layers))
	chain := ""
	for i, l := range m.Layers {
		diffID := digest.Digest(cfg.RootFS.DiffIDs[i].String())
		if err := diffID.Validate(); err != nil {
			return nil, fmt.Errorf("the config's diff ID %d: %w", i, err)
		}
		parent := chain
		if chain == "" {
			chain = diffID.Encoded()
		} else {
			sum := sha256.Sum256([]byte("sha256:" + chain + " " + diffID.String()))
			chain = hex.EncodeToString(sum[:])
		}
		out[i] = store.LayerInfo{ChainID: chain, Parent: parent, Compressed: digest.Digest(l.Digest.String()), Size: l.Size, DiffID: diffID}
	}
	return out, nil
}

// nameOptions are the reference options for a pull: plain HTTP allowed
// for every registry only with --tls-verify=false.
func nameOptions(tlsVerify bool) []name.Option {
	if tlsVerify {
		return nil
	}
	return []name.Option{name.Insecure}
}
