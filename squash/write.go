package squash

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"husk/reexec"
	"husk/store"
	"husk/userns"
)

// CallWrite writes an image of the store as a squashfs file, in husk's
// user namespace, where the layers' owners are the image's own ids.
const CallWrite = "squashfs-write"

func init() { reexec.Register(CallWrite, writeMain) }

// Write writes image ref of the store (driver) to out as a squashfs: its
// layers applied in order, then its config at /.husk/config.json. The file
// is written under a temporary name beside out and renamed at the end, so
// that a failed or killed write leaves no partial out. Its notice, if any,
// goes to notices.
func Write(ctx context.Context, driver, ref, out string, notices io.Writer) error {
	abs, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	if st, err := os.Stat(filepath.Dir(abs)); err != nil || !st.IsDir() {
		return fmt.Errorf("writing %s: its directory %s does not exist: create it or give another -o", out, filepath.Dir(abs))
	}
	if st, err := os.Stat(abs); err == nil && st.IsDir() {
		return fmt.Errorf("writing %s: it is a directory: give a file's path with -o", out)
	}
	// The node's name and this process's ID tell a later publish whose
	// leftover a temporary file is (store.PublishSquash).
	host, _ := os.Hostname()
	tmp := filepath.Join(filepath.Dir(abs), fmt.Sprintf(".%s.husk-tmp-%s-%d", filepath.Base(abs), host, os.Getpid()))
	defer os.Remove(tmp)
	var errb strings.Builder
	code, err := userns.CallWith(ctx, notices, &errb, CallWrite, driver, ref, tmp)
	if err != nil {
		return err
	}
	if code != 0 {
		msg := strings.TrimPrefix(strings.TrimSpace(errb.String()), "husk: ")
		if msg == "" {
			msg = fmt.Sprintf("squashing image %s failed with code %d: this is husk's own error", ref, code)
		}
		return errors.New(msg)
	}
	// On a network filesystem the data must be on the server before the
	// name is.
	if err := syncFile(tmp); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	if err := os.Rename(tmp, abs); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	return nil
}

func syncFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// DefaultName is the file an image is squashed to without -o: its name's
// last part, tag included, in the current directory.
func DefaultName(ref string) string {
	base := ref[strings.LastIndex(ref, "/")+1:]
	base, _, _ = strings.Cut(base, "@")
	return strings.NewReplacer(":", "_").Replace(base) + ".sqsh"
}

func writeMain(_ context.Context, out, errw io.Writer, args []string) int {
	if len(args) != 3 {
		fmt.Fprintf(errw, "husk: %s takes a driver, an image and a file: this is husk's own error\n", CallWrite)
		return 125
	}
	notice, err := write(args[0], args[1], args[2])
	if err != nil {
		fmt.Fprintln(errw, "husk: "+err.Error())
		return 125
	}
	if notice != "" {
		fmt.Fprintln(out, notice)
	}
	return 0
}

func write(driver, ref, out string) (string, error) {
	s, err := store.Open(driver)
	if err != nil {
		return "", err
	}
	defer s.Close()
	img, err := s.Lookup(ref)
	if err != nil {
		return "", fmt.Errorf("squashing image %s: %w", ref, err)
	}
	cfg, err := s.Config(img)
	if err != nil {
		return "", fmt.Errorf("squashing image %s: reading its config: %w", ref, err)
	}
	// The tree is built under the store, beside the layers, not in a
	// small /tmp.
	tmp, err := s.TempDir("squash-")
	if err != nil {
		return "", fmt.Errorf("squashing image %s: %w", ref, err)
	}
	defer os.RemoveAll(tmp)
	root := filepath.Join(tmp, "root")
	if err := os.Mkdir(root, 0o755); err != nil {
		return "", err
	}
	if err := flatten(s, img.TopLayer, root, cfg); err != nil {
		return "", fmt.Errorf("squashing image %s: %w", ref, err)
	}
	notice, err := writeTree(root, tmp, out)
	if err != nil {
		return "", fmt.Errorf("squashing image %s: writing %s: %w", ref, out, err)
	}
	return notice, nil
}

// flatten applies the image's layers to root, then writes the config.
func flatten(s *store.Store, top, root string, cfg []byte) error {
	if err := s.Flatten(top, root); err != nil {
		return err
	}
	dir := filepath.Join(root, filepath.Dir(ConfigPath))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(root, ConfigPath), cfg, 0o644)
}
