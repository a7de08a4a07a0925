package store

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	digest "github.com/opencontainers/go-digest"
	storage "go.podman.io/storage"

	"husk/fuse"
)

// Big-data keys, as containers/image names them, so that other tools
// reading a containers/storage store find the same items.
const (
	ManifestKey = "manifest"
)

// ManifestKeyFor is the key of the manifest with digest d.
func ManifestKeyFor(d string) string { return "manifest-" + d }

// ConfigKey is the key of the image's config blob: its digest.
func ConfigKey(id string) string { return "sha256:" + id }

// ErrNoSuchImage is a name or ID that matches no image.
var ErrNoSuchImage = errors.New("no such image")

// idPrefix reports whether s can be an image ID or a prefix of one: 1 to
// 64 lowercase hex digits. (Plain code: a regexp of {1,64} took a
// millisecond to compile at every start of husk.)
func idPrefix(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Lookup finds one image by name (short names as Docker resolves them), by
// ID (with or without sha256:), or by a unique prefix of its ID.
func (s *Store) Lookup(query string) (*storage.Image, error) {
	id := strings.TrimPrefix(query, "sha256:")
	if len(id) == 64 && idPrefix(id) {
		if img, err := s.Image(id); err == nil {
			return img, nil
		}
	}
	images, err := s.Images()
	if err != nil {
		return nil, fmt.Errorf("listing images: %w", err)
	}
	for _, n := range []string{query, NormalizeName(query)} {
		for i := range images {
			for _, have := range images[i].Names {
				if n != "" && have == n {
					return &images[i], nil
				}
			}
		}
	}
	if img := byDigest(images, NormalizeName(query)); img != nil {
		return img, nil
	}
	if !idPrefix(id) {
		return nil, fmt.Errorf("%w: pull it first with 'husk pull %s', or see 'husk images'", ErrNoSuchImage, query)
	}
	return byPrefix(images, id)
}

// byDigest finds REPO@sha256:D among images pulled under another name of
// REPO (a tag) whose manifest is D: what `husk pull` printed as its
// digest, so that a job pinned to it runs exactly that image, stored once.
func byDigest(images []storage.Image, name string) *storage.Image {
	repo, d, ok := strings.Cut(name, "@")
	if !ok || !strings.HasPrefix(d, "sha256:") {
		return nil
	}
	for i := range images {
		if !slices.Contains(images[i].Digests, digest.Digest(d)) {
			continue
		}
		for _, n := range images[i].Names {
			if r, _ := SplitName(n); r == repo {
				return &images[i]
			}
		}
	}
	return nil
}

func byPrefix(images []storage.Image, prefix string) (*storage.Image, error) {
	var found []*storage.Image
	for i := range images {
		if strings.HasPrefix(images[i].ID, prefix) {
			found = append(found, &images[i])
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Errorf("%w: see 'husk images'", ErrNoSuchImage)
	case 1:
		return found[0], nil
	}
	return nil, fmt.Errorf("the ID prefix %s matches %d images: give more of the ID (husk images --no-trunc)", prefix, len(found))
}

// Tag adds the normalized name target to the image found by source.
func (s *Store) Tag(source, target string) error {
	img, err := s.Lookup(source)
	if err != nil {
		return err
	}
	ref, err := ParseReference(target)
	if err != nil {
		return err
	}
	return s.AddNames(img.ID, []string{DisplayName(ref)})
}

// Untag removes name from the image that holds it.
func (s *Store) Untag(img *storage.Image, name string) error {
	return s.RemoveNames(img.ID, []string{name})
}

// Delete removes an image and the layers only it used. While a container
// uses the image, it names that container instead.
func (s *Store) Delete(img *storage.Image) error {
	if s.Strategy == fuse.VFS {
		s.sweepCopies() // a copy left by a killed husk must not keep the image
	}
	unlock, err := s.lockForRemoval(img.ID)
	if err != nil {
		return err
	}
	removed := false
	defer func() { unlock(removed) }()
	if _, err := s.DeleteImage(img.ID, true); err != nil {
		if errors.Is(err, storage.ErrImageUsedByContainer) {
			return fmt.Errorf("the image is in use by container %s: end the husk run that uses it first", s.userOf(img.ID))
		}
		return err
	}
	removed = true
	return nil
}

// userOf names a container that uses image id.
func (s *Store) userOf(id string) string {
	cs, err := s.Containers()
	if err != nil {
		return "(unknown)"
	}
	for _, c := range cs {
		if c.ImageID == id {
			if len(c.Names) > 0 {
				return c.Names[0]
			}
			return c.ID[:12]
		}
	}
	return "(unknown)"
}

// Config returns the image's config blob (OCI/Docker image config JSON).
func (s *Store) Config(img *storage.Image) ([]byte, error) {
	b, err := s.ImageBigData(img.ID, ConfigKey(img.ID))
	if err != nil {
		return nil, fmt.Errorf("reading the config of image %.12s: %w: pull the image again", img.ID, err)
	}
	return b, nil
}

// Size is the unpacked size of the image's layers.
func (s *Store) Size(img *storage.Image) int64 {
	n, err := s.ImageSize(img.ID)
	if err != nil {
		return -1
	}
	return n
}
