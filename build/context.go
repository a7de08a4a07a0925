package build

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
)

// Context is the build context: a directory, less what .dockerignore
// excludes. A build from stdin alone has none.
type Context struct {
	Dir    string // "" for no context
	From   string // the stage or image a --from root is, for errors
	ignore *patternmatcher.PatternMatcher
}

// OpenContext reads the context's ignore file: <Dockerfile>.dockerignore
// beside a Dockerfile given with -f first, else .dockerignore at the
// context's root.
func OpenContext(dir, dockerfile string) (*Context, error) {
	if dir == "" {
		return &Context{}, nil
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(abs); err != nil || !fi.IsDir() {
		return nil, userErrorf("the build context %s is not a directory: give the directory that holds the files the Dockerfile copies", dir)
	}
	candidates := []string{filepath.Join(abs, ".dockerignore")}
	if dockerfile != "" && dockerfile != "-" {
		candidates = append([]string{dockerfile + ".dockerignore"}, candidates...)
	}
	var patterns []string
	for _, c := range candidates {
		f, err := os.Open(c)
		if err != nil {
			continue
		}
		patterns, err = ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return nil, userErrorf("%s: %v: fix the pattern", c, err)
		}
		break
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return nil, userErrorf("the .dockerignore of %s: %v: fix the pattern", dir, err)
	}
	return &Context{Dir: abs, ignore: pm}, nil
}

// excluded reports whether rel (slash-separated, relative to the context)
// is left out by .dockerignore.
func (c *Context) excluded(rel string) bool {
	if c.ignore == nil || rel == "." {
		return false
	}
	ok, err := c.ignore.MatchesOrParentMatches(filepath.ToSlash(rel))
	return err == nil && ok
}

// Sources resolves COPY or ADD sources (globs allowed) to paths relative
// to the context, each existing and not excluded.
func (c *Context) Sources(srcs []string) ([]string, error) {
	if len(srcs) == 0 {
		return nil, nil
	}
	if c.Dir == "" {
		return nil, errors.New("there is no build context (the Dockerfile came from stdin with -): give a context directory")
	}
	var out []string
	for _, src := range srcs {
		rel := filepath.Clean("/" + src)[1:]
		if rel == "" {
			rel = "."
		}
		matches, err := filepath.Glob(filepath.Join(c.Dir, rel))
		if err != nil {
			return nil, fmt.Errorf("the source pattern %q: %w", src, err)
		}
		n := 0
		for _, m := range matches {
			r, err := filepath.Rel(c.Dir, m)
			if err != nil || c.excluded(r) {
				continue
			}
			out = append(out, r)
			n++
		}
		if n == 0 && c.From != "" {
			return nil, fmt.Errorf("%s is not in %s: fix the path", src, c.From)
		}
		if n == 0 {
			return nil, fmt.Errorf("%s is not in the build context %s (or .dockerignore excludes it): add it there or fix the path", src, c.Dir)
		}
	}
	return out, nil
}

// Hash is the content of the sources for the layer cache: every file's
// path, mode, link target and bytes, in order; mtimes do not count, as in
// Docker.
func (c *Context) Hash(rels []string) (string, error) {
	h := sha256.New()
	for _, rel := range rels {
		err := c.walk(rel, func(path, r string, fi fs.FileInfo) error {
			fmt.Fprintf(h, "%s\x00%o\x00", r, fi.Mode())
			switch {
			case fi.Mode()&fs.ModeSymlink != 0:
				t, err := os.Readlink(path)
				fmt.Fprintf(h, "%s\x00", t)
				return err
			case fi.Mode().IsRegular():
				f, err := os.Open(path)
				if err != nil {
					return err
				}
				defer f.Close()
				_, err = io.Copy(h, f)
				return err
			}
			return nil
		})
		if err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// walk calls fn for rel and, if it is a directory, everything under it
// that .dockerignore keeps, parents before children, in name order.
func (c *Context) walk(rel string, fn func(path, rel string, fi fs.FileInfo) error) error {
	path := filepath.Join(c.Dir, rel)
	fi, err := os.Lstat(path)
	if err != nil {
		return err
	}
	if err := fn(path, rel, fi); err != nil || !fi.IsDir() {
		return err
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return err
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name() < entries[j].Name() })
	for _, e := range entries {
		r := filepath.Join(rel, e.Name())
		if c.excluded(r) {
			continue
		}
		if err := c.walk(r, fn); err != nil {
			return err
		}
	}
	return nil
}

// isDirPath: a destination that names a directory.
func isDirPath(p string) bool {
	return strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.")
}
