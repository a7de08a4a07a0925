package cli

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	storage "go.podman.io/storage"

	"husk/store"
	"husk/userns"
)

// ImageCmd is `husk image`.
type ImageCmd struct {
	Ls      ImagesCmd       `cmd:"" aliases:"list" help:"List images."`
	Pull    PullCmd         `cmd:"" help:"Pull an image from a registry."`
	Push    PushCmd         `cmd:"" help:"Push an image to a registry."`
	Save    SaveCmd         `cmd:"" help:"Write images to an archive (docker-archive, oci-archive) or an OCI layout."`
	Load    LoadCmd         `cmd:"" help:"Load images from an archive or an OCI layout."`
	Import  ImportCmd       `cmd:"" help:"Make an image of one layer from a tar of a filesystem."`
	History HistoryCmd      `cmd:"" help:"Show the steps that made an image."`
	Prune   ImagePruneCmd   `cmd:"" help:"Remove dangling images (-a: every image no container uses)."`
	Tag     TagCmd          `cmd:"" help:"Give an image another name."`
	Rm      RmiCmd          `cmd:"" aliases:"remove" help:"Remove one or more images."`
	Inspect ImageInspectCmd `cmd:"" help:"Show an image's details as JSON."`
	Mount   ImageMountCmd   `cmd:"" help:"Mount an image's root filesystem read-only (inside husk unshare)."`
	Squash  ImageSquashCmd  `cmd:"" help:"Write an image's root filesystem and config as one squashfs file (husk run FILE.sqsh runs it)."`
	Publish ImagePublishCmd `cmd:"" help:"Put an image into a read-only store that others run from (HUSK_IMAGE_STORES)."`
}

// ImageInspectCmd is `husk image inspect`.
type ImageInspectCmd struct {
	Format string   `short:"f" help:"Go template applied to each image."`
	Images []string `arg:"" name:"image" help:"Image names or IDs."`
}

// inspectConfig is the part of the image config Docker's inspect shows.
type inspectConfig struct {
	Env          []string
	Cmd          []string
	Entrypoint   []string
	WorkingDir   string
	User         string
	Labels       map[string]string
	ExposedPorts map[string]struct{}
	StopSignal   string
	// What a Dockerfile build may set, shown when set.
	Volumes     map[string]struct{} `json:",omitempty"`
	Healthcheck *v1.HealthConfig    `json:",omitempty"`
	OnBuild     []string            `json:",omitempty"`
	Shell       []string            `json:",omitempty"`
}

type inspectRootFS struct {
	Type   string
	Layers []string
}

type inspectImage struct {
	Id           string
	RepoTags     []string
	RepoDigests  []string
	Created      string
	Architecture string
	Os           string
	Variant      string `json:",omitempty"`
	Config       inspectConfig
	RootFS       inspectRootFS
	Size         int64
}

func (c *ImageInspectCmd) Run(g *Globals) error {
	if err := userns.Enter(g.Ctx); err != nil {
		return err
	}
	return inspectImages(g.StorageDriver, c.Format, c.Images, g.Stdout)
}

func describe(s *store.Store, img *storage.Image) (*inspectImage, error) {
	raw, err := s.Config(img)
	if err != nil {
		return nil, err
	}
	cfg, err := v1.ParseConfigFile(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("parsing the config of image %.12s: %w: pull the image again", img.ID, err)
	}
	ii := &inspectImage{Id: "sha256:" + img.ID, RepoTags: []string{}, RepoDigests: []string{},
		Created: cfg.Created.UTC().Format("2006-01-02T15:04:05.999999999Z"), Architecture: cfg.Architecture,
		Os: cfg.OS, Variant: cfg.Variant, Size: s.Size(img), RootFS: inspectRootFS{Type: "layers", Layers: []string{}}}
	seen := map[string]bool{}
	for _, n := range img.Names {
		repo, _ := store.SplitName(n)
		if !strings.Contains(n, "@") {
			ii.RepoTags = append(ii.RepoTags, n)
		}
		if img.Digest != "" && !seen[repo] {
			seen[repo] = true
			ii.RepoDigests = append(ii.RepoDigests, repo+"@"+img.Digest.String())
		}
	}
	ii.Config = inspectConfigOf(cfg.Config)
	for _, d := range cfg.RootFS.DiffIDs {
		ii.RootFS.Layers = append(ii.RootFS.Layers, d.String())
	}
	return ii, nil
}

// inspectConfigOf is an image config as inspect shows it.
func inspectConfigOf(cc v1.Config) inspectConfig {
	return inspectConfig{Env: cc.Env, Cmd: cc.Cmd, Entrypoint: cc.Entrypoint, WorkingDir: cc.WorkingDir,
		User: cc.User, Labels: cc.Labels, ExposedPorts: cc.ExposedPorts, StopSignal: cc.StopSignal,
		Volumes: cc.Volumes, Healthcheck: cc.Healthcheck, OnBuild: cc.OnBuild, Shell: cc.Shell}
}

// ImageMountCmd is `husk image mount`. A mount made in husk's namespace
// lives only as long as the namespace, so it is only useful inside
// `husk unshare`, which keeps one open.
type ImageMountCmd struct {
	Image string `arg:"" help:"Image name or ID."`
}

func (c *ImageMountCmd) Run(g *Globals) error {
	if os.Getenv("HUSK_STORE") == "" || (!userns.Inside() && os.Geteuid() != 0) {
		return fmt.Errorf("image mount %s: the mount would vanish when husk exits: run it inside 'husk unshare' (husk unshare husk image mount %s)", c.Image, c.Image)
	}
	s, err := openStore(g)
	if err != nil {
		return err
	}
	// No Shutdown: it would unmount what we just mounted.
	img, err := s.Lookup(c.Image)
	if err != nil {
		return fmt.Errorf("image mount %s: %w", c.Image, err)
	}
	dir, err := s.MountImage(img.ID, []string{"ro"}, "")
	if err != nil {
		return fmt.Errorf("image mount %s: %w: see 'husk info' for the storage strategy", c.Image, err)
	}
	fmt.Fprintln(g.Stdout, dir)
	return nil
}
