package oci

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/sys/user"
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"husk/profiles"
	"husk/reexec"
	"husk/sandbox"
	"husk/seccomp"
	"husk/store"
	"husk/userns"
)

// CallBundle unpacks an image's layers into a bundle's rootfs in husk's
// user namespace, where the files get the owners the mapping allows, and
// prints the image's config.
const CallBundle = "oci-bundle"

func init() { reexec.Register(CallBundle, bundleMain) }

// WriteBundle writes an OCI bundle of image ref (in the store) to dir,
// which must be missing or empty: rootfs/, the image's filesystem, and
// config.json, the process, environment, working directory and user as
// husk run would give them, with husk run's capabilities, masked paths,
// rlimits and seccomp profile. A failure removes what it wrote.
func WriteBundle(ctx context.Context, driver, ref, dir string) (err error) {
	if ents, rerr := os.ReadDir(dir); rerr == nil && len(ents) > 0 {
		return fmt.Errorf("writing a bundle in %s: it is not empty: give a new or empty directory", dir)
	}
	if err := os.MkdirAll(filepath.Join(dir, "rootfs"), 0o755); err != nil {
		return fmt.Errorf("writing a bundle in %s: %w", dir, err)
	}
	defer func() {
		if err != nil {
			removeBundle(ctx, dir)
		}
	}()
	abs, err := filepath.Abs(filepath.Join(dir, "rootfs"))
	if err != nil {
		return err
	}
	var out collected
	var errb strings.Builder
	code, err := userns.CallWith(ctx, &out, &errb, CallBundle, driver, ref, abs)
	if err != nil {
		return err
	}
	if code != 0 {
		return errors.New(strings.TrimPrefix(strings.TrimSpace(errb.String()), "husk: "))
	}
	var cf v1.ConfigFile
	if err := json.Unmarshal(out, &cf); err != nil {
		return fmt.Errorf("reading image %s's config: %w", ref, err)
	}
	spec, err := BundleSpec(cf.Config, abs)
	if err != nil {
		return err
	}
	b, err := json.MarshalIndent(spec, "", "\t")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644)
}

// collected collects a call's output.
type collected []byte

func (b *collected) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

// removeBundle removes a half-written bundle; its files may have owners
// only husk's namespace can remove.
func removeBundle(ctx context.Context, dir string) {
	if os.RemoveAll(dir) == nil {
		return
	}
	abs, _ := filepath.Abs(dir)
	_, _ = userns.Call(ctx, io.Discard, CallBundle, "remove", abs)
}

func bundleMain(_ context.Context, out, errw io.Writer, args []string) int {
	if len(args) == 2 && args[0] == "remove" {
		if err := os.RemoveAll(args[1]); err != nil {
			fmt.Fprintln(errw, "husk: "+err.Error())
			return 125
		}
		return 0
	}
	if len(args) != 3 {
		fmt.Fprintf(errw, "husk: %s takes a driver, an image and a directory: this is husk's own error\n", CallBundle)
		return 125
	}
	cfg, err := unpack(args[0], args[1], args[2])
	if err != nil {
		fmt.Fprintln(errw, "husk: "+err.Error())
		return 125
	}
	_, _ = out.Write(cfg)
	return 0
}

func unpack(driver, ref, rootfs string) ([]byte, error) {
	s, err := store.Open(driver)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	img, err := s.Lookup(ref)
	if err != nil {
		return nil, fmt.Errorf("writing a bundle of image %s: %w", ref, err)
	}
	cfg, err := s.Config(img)
	if err != nil {
		return nil, fmt.Errorf("writing a bundle of image %s: reading its config: %w", ref, err)
	}
	if err := s.Flatten(img.TopLayer, rootfs); err != nil {
		return nil, fmt.Errorf("writing a bundle of image %s: %w", ref, err)
	}
	return cfg, nil
}

// BundleSpec is the runtime spec of an image's default process over
// rootfs, as husk run builds it: its user resolved to numbers in the
// rootfs's /etc/passwd and /etc/group.
func BundleSpec(cfg v1.Config, rootfs string) (*specs.Spec, error) {
	s, err := sandbox.ContainerSpec(cfg, sandbox.RunOptions{ID: "husk-bundle", Hostname: "husk", Caps: profiles.DefaultCaps})
	if err != nil {
		return nil, err
	}
	u, err := user.GetExecUserPath(s.User, &user.ExecUser{Home: "/"}, filepath.Join(rootfs, "etc/passwd"), filepath.Join(rootfs, "etc/group"))
	if err != nil {
		return nil, fmt.Errorf("resolving the image's user %q in its /etc/passwd: %w", s.User, err)
	}
	prof, err := seccomp.Default(profiles.DefaultCaps)
	if err != nil {
		return nil, err
	}
	caps := profiles.DefaultCaps
	nproc := sandbox.PidsRlimit(sandbox.DefaultPidsLimit)
	uid, gid := os.Getuid(), os.Getgid()
	return &specs.Spec{
		Version: specs.Version,
		Process: &specs.Process{
			Args: s.Args, Env: withHome(s.Env, u.Home), Cwd: s.Cwd,
			User:         specs.User{UID: uint32(u.Uid), GID: uint32(u.Gid)},
			Capabilities: &specs.LinuxCapabilities{Bounding: caps, Effective: caps, Permitted: caps},
			Rlimits:      []specs.POSIXRlimit{nproc},
		},
		Root:     &specs.Root{Path: "rootfs"},
		Hostname: "husk",
		Mounts: []specs.Mount{
			{Destination: "/proc", Type: "proc", Source: "proc"},
			{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
			{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}},
			{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
			{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
			{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
		},
		Linux: &specs.Linux{
			// What husk maps: 0 is the user (husk applies its own mapping,
			// with /etc/subuid ranges where the user has them).
			UIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(uid), Size: 1}},
			GIDMappings: []specs.LinuxIDMapping{{ContainerID: 0, HostID: uint32(gid), Size: 1}},
			Namespaces: []specs.LinuxNamespace{
				{Type: specs.PIDNamespace}, {Type: specs.IPCNamespace}, {Type: specs.UTSNamespace},
				{Type: specs.MountNamespace}, {Type: specs.NetworkNamespace}, {Type: specs.UserNamespace},
			},
			MaskedPaths:   profiles.MaskedPaths,
			ReadonlyPaths: profiles.ReadonlyPaths,
			Seccomp:       prof,
		},
	}, nil
}

// withHome adds the user's HOME unless the image sets one, as the
// executor does for husk run.
func withHome(env []string, home string) []string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "HOME=") {
			return env
		}
	}
	return append(env, "HOME="+home)
}
