package build

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"

	securejoin "github.com/cyphar/filepath-securejoin"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"go.podman.io/storage/pkg/archive"
	"golang.org/x/sys/unix"

	"husk/sandbox"
	"husk/store"
)

// Secret is one --secret: a file's content or an environment variable's.
type Secret struct {
	File string // src=FILE
	Env  string // env=VAR
}

// stepMounts are a RUN step's --mount flags made ready: the sandbox's
// mounts, the mount points made in the root (removed again so that no
// layer keeps them), and what to undo when the step ends.
type stepMounts struct {
	ops   []sandbox.Op
	made  []string // absolute in the root, parents first
	undo  []func()
	extra []string // what the cache key adds: bind sources' content
}

func (m *stepMounts) release(root string) {
	for i := len(m.made) - 1; i >= 0; i-- {
		_ = os.Remove(filepath.Join(root, m.made[i])) // only if still empty
	}
	for i := len(m.undo) - 1; i >= 0; i-- {
		m.undo[i]()
	}
}

// mountsKey is what a step's mounts add to its cache key, known before
// the step runs: bind sources by content, the rest by their text. A cache
// mount's content and a secret's do not count, as in Docker.
func (st *stage) mountsKey(c *instructions.RunCommand) ([]string, error) {
	var out []string
	for _, m := range instructions.GetMounts(c) {
		js, _ := json.Marshal(m) // pointers as their values, unlike %v
		out = append(out, string(js))
		if m.Type != instructions.MountTypeBind {
			continue
		}
		if m.From != "" {
			_, key, err := st.b.source(m.From, st.index)
			if err != nil {
				return nil, err
			}
			out = append(out, key)
			continue
		}
		rel := cleanRel(m.Source)
		if _, err := st.b.o.Context.Sources([]string{rel}); err != nil {
			return nil, err
		}
		h, err := st.b.o.Context.Hash([]string{rel})
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

// prepareMounts makes each --mount of the step ready over root.
func (st *stage) prepareMounts(c *instructions.RunCommand, root string) (*stepMounts, error) {
	sm := &stepMounts{}
	for _, m := range instructions.GetMounts(c) {
		if err := st.prepareMount(sm, m, root); err != nil {
			sm.release(root)
			return nil, fmt.Errorf("RUN --mount=type=%s,target=%s: %w", m.Type, m.Target, err)
		}
	}
	return sm, nil
}

func (st *stage) prepareMount(sm *stepMounts, m *instructions.Mount, root string) error {
	target := m.Target
	if m.Type == instructions.MountTypeSecret && target == "" {
		target = "/run/secrets/" + secretID(m)
	}
	target = st.workdir(target)
	switch m.Type {
	case instructions.MountTypeCache:
		return st.cacheMount(sm, m, root, target)
	case instructions.MountTypeBind:
		return st.bindMount(sm, m, root, target)
	case instructions.MountTypeTmpfs:
		if err := sm.mountPoint(root, target, true); err != nil {
			return err
		}
		op := sandbox.Op{Kind: sandbox.KindMount, FSType: "tmpfs", Source: "tmpfs", Target: target, Flags: unix.MS_NOSUID | unix.MS_NODEV}
		if m.SizeLimit > 0 {
			op.Data = fmt.Sprintf("size=%d", m.SizeLimit)
		}
		sm.ops = append(sm.ops, op)
		return nil
	case instructions.MountTypeSecret:
		return st.secretMount(sm, m, root, target)
	}
	return fmt.Errorf("mounts of type %s are not supported by husk build: use cache, bind, tmpfs or secret", m.Type)
}

// cacheMount binds a directory kept under the store between builds,
// shared by its id (default: the target). sharing=locked and =private
// hold a lock on it for the step, so that concurrent builds take turns
// (private does not make a second directory, as BuildKit's does).
func (st *stage) cacheMount(sm *stepMounts, m *instructions.Mount, root, target string) error {
	id := m.CacheID
	if id == "" {
		id = target
	}
	sum := sha256.Sum256([]byte(id))
	dir := filepath.Join(st.b.s.GraphRoot(), "husk-build-mounts", hex.EncodeToString(sum[:16]))
	mode := os.FileMode(0o755)
	if m.Mode != nil {
		mode = os.FileMode(*m.Mode) & os.ModePerm
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return fmt.Errorf("making the cache mount's directory under %s: %w", st.b.s.GraphRoot(), store.AnnotateDisk(err, st.b.s.GraphRoot()))
	}
	err := os.Mkdir(dir, mode)
	switch {
	case err == nil && m.From != "":
		if err := st.seedCache(sm, m, dir); err != nil {
			os.RemoveAll(dir)
			return err
		}
	case err != nil && !os.IsExist(err):
		return fmt.Errorf("making the cache mount's directory %s: %w", dir, err)
	}
	if m.CacheSharing == instructions.MountSharingLocked || m.CacheSharing == instructions.MountSharingPrivate {
		fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
		if err != nil {
			return err
		}
		if err := unix.Flock(fd, unix.LOCK_EX); err != nil {
			unix.Close(fd)
			return err
		}
		sm.undo = append(sm.undo, func() { unix.Close(fd) })
	}
	if err := sm.mountPoint(root, target, true); err != nil {
		return err
	}
	sm.ops = append(sm.ops, bindOp(dir, target, m.ReadOnly))
	return nil
}

// bindMount binds a path of the context, or of a stage's or an image's
// root, read-only unless rw (a stage's or image's root is a throwaway
// layer, so that writes go nowhere, as in Docker).
func (st *stage) bindMount(sm *stepMounts, m *instructions.Mount, root, target string) error {
	var base string
	if m.From != "" {
		ctx, _, done, err := st.b.fromRoot(m.From, st.index)
		if err != nil {
			return err
		}
		sm.undo = append(sm.undo, done)
		base = ctx.Dir
	} else {
		base = st.b.o.Context.Dir
	}
	src, err := securejoin.SecureJoin(base, cleanRel(m.Source))
	if err != nil {
		return err
	}
	fi, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("the source %s: %w: name a path that exists", m.Source, err)
	}
	if m.From == "" && !m.ReadOnly {
		// Docker's rw bind of the context: the step may write, and what
		// it writes is discarded; the context itself is never written.
		if src, err = throwawayCopy(sm, src); err != nil {
			return err
		}
	}
	if err := sm.mountPoint(root, target, fi.IsDir()); err != nil {
		return err
	}
	sm.ops = append(sm.ops, bindOp(src, target, m.ReadOnly))
	return nil
}

// secretMount binds a copy of the secret, made in husk's private run
// directory and removed after the step: never in the root, a layer, the
// history or the command line.
func (st *stage) secretMount(sm *stepMounts, m *instructions.Mount, root, target string) error {
	id := secretID(m)
	sec, ok := st.b.o.Secrets[id]
	var data []byte
	var err error
	switch {
	case !ok && m.Required:
		return fmt.Errorf("no secret %q was given: pass --secret id=%s,src=FILE (or env=VAR)", id, id)
	case !ok:
		return nil // Docker mounts nothing for a missing optional secret
	case sec.Env != "":
		v, set := os.LookupEnv(sec.Env)
		if !set {
			return fmt.Errorf("--secret id=%s,env=%s: the variable is not set: export it or use src=FILE", id, sec.Env)
		}
		data = []byte(v)
	default:
		if data, err = readSecret(sec.File); err != nil {
			return fmt.Errorf("--secret id=%s: %w", id, err)
		}
	}
	_, _, runroot, err := store.Paths()
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(runroot, ".secret-*")
	if err != nil {
		return fmt.Errorf("--secret id=%s: %w", id, err)
	}
	sm.undo = append(sm.undo, func() { os.Remove(f.Name()) })
	mode := os.FileMode(0o400)
	if m.Mode != nil {
		mode = os.FileMode(*m.Mode) & os.ModePerm
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), mode)
	}
	if err != nil {
		return fmt.Errorf("--secret id=%s: writing its copy: %w", id, err)
	}
	if err := sm.mountPoint(root, target, false); err != nil {
		return err
	}
	sm.ops = append(sm.ops, bindOp(f.Name(), target, true))
	return nil
}

func secretID(m *instructions.Mount) string {
	if m.CacheID != "" {
		return m.CacheID
	}
	return path.Base(m.Target)
}

func bindOp(src, target string, ro bool) sandbox.Op {
	op := sandbox.Op{Kind: sandbox.KindBind, Source: src, Target: target, Flags: unix.MS_NOSUID | unix.MS_NODEV}
	if ro {
		op.Flags |= unix.MS_RDONLY
	}
	return op
}

// mountPoint makes target in root when missing, a directory or an empty
// file, and its missing parents, remembering each so that release removes
// them again.
func (sm *stepMounts) mountPoint(root, target string, dir bool) error {
	parts := strings.Split(strings.Trim(path.Clean(target), "/"), "/")
	cur := "/"
	for i, p := range parts {
		if p == "" {
			continue
		}
		cur = path.Join(cur, p)
		full, err := securejoin.SecureJoin(root, cur)
		if err != nil {
			return err
		}
		if _, err := os.Lstat(full); err == nil {
			continue
		}
		last := i == len(parts)-1
		if last && !dir {
			err = os.WriteFile(full, nil, 0o644)
		} else {
			err = os.Mkdir(full, 0o755)
		}
		if err != nil {
			return fmt.Errorf("making the mount point %s: %w", cur, err)
		}
		// Record the path as it lies in the root, symlinks resolved.
		rel, _ := filepath.Rel(root, full)
		sm.made = append(sm.made, "/"+rel)
	}
	return nil
}

// cleanRel is a source path made relative and unable to climb out.
func cleanRel(p string) string {
	rel := filepath.Clean("/" + p)[1:]
	if rel == "" {
		return "."
	}
	return rel
}

// maxSecretFile is BuildKit's bound on a secret (500 KiB): src=/dev/zero is
// refused instead of filling memory (issue 19, item 7).
const maxSecretFile = 500 << 10

func readSecret(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%w: give a readable file", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w: give a readable file", path, err)
	}
	if len(b) > maxSecretFile {
		return nil, fmt.Errorf("%s is over BuildKit's %d KiB bound on a secret: give a smaller file", path, maxSecretFile>>10)
	}
	return b, nil
}

// seedCache fills a new cache directory from a stage's or an image's
// path (from=, source=), as BuildKit seeds a cache mount on first use.
func (st *stage) seedCache(sm *stepMounts, m *instructions.Mount, dir string) error {
	ctx, _, done, err := st.b.fromRoot(m.From, st.index)
	if err != nil {
		return err
	}
	defer done()
	src, err := securejoin.SecureJoin(ctx.Dir, cleanRel(m.Source))
	if err != nil {
		return err
	}
	if err := archive.NewDefaultArchiver().CopyWithTar(src, dir); err != nil {
		return fmt.Errorf("seeding the cache mount %s from %s:%s: %w: name a directory of that stage", m.Target, m.From, m.Source, err)
	}
	return nil
}

// throwawayCopy copies a context path into the run directory for one
// step, removed when the step ends.
func throwawayCopy(sm *stepMounts, src string) (string, error) {
	_, _, runroot, err := store.Paths()
	if err != nil {
		return "", err
	}
	tmp, err := os.MkdirTemp(runroot, ".bind-rw-*")
	if err != nil {
		return "", fmt.Errorf("copying %s for a read-write bind: %w", src, err)
	}
	sm.undo = append(sm.undo, func() { os.RemoveAll(tmp) })
	dst := filepath.Join(tmp, filepath.Base(src))
	a := archive.NewDefaultArchiver()
	if fi, err := os.Stat(src); err == nil && !fi.IsDir() {
		err = a.CopyFileWithTar(src, dst)
	} else {
		err = a.CopyWithTar(src, dst)
	}
	if err != nil {
		return "", fmt.Errorf("copying %s for a read-write bind: %w: check the disk under %s", src, err, runroot)
	}
	return dst, nil
}
