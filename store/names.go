package store

import (
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
)

// ParseReference parses an image reference by Docker's rules (short names
// resolve to docker.io/library, the tag defaults to latest). The opts go to
// go-containerregistry (name.Insecure for plain HTTP).
func ParseReference(s string, opts ...name.Option) (name.Reference, error) {
	if s == "" || strings.TrimSpace(s) != s {
		return nil, fmt.Errorf("invalid reference %q: not a valid image name: use a name like busybox, docker.io/library/busybox:latest or HOST:PORT/NAME@sha256:DIGEST", s)
	}
	// Docker's grammar first: go-containerregistry lets through names such
	// as a..b or ../../etc/passwd, which must never reach DNS or a tag.
	err := dockerGrammar(s)
	var ref name.Reference
	if err == nil {
		ref, err = name.ParseReference(s, append(opts, name.WithDefaultRegistry(name.DefaultRegistry))...)
	}
	if err != nil {
		return nil, fmt.Errorf("invalid reference %q: %s: use a name like busybox, docker.io/library/busybox:latest or HOST:PORT/NAME@sha256:DIGEST", s, strings.TrimSuffix(err.Error(), "."))
	}
	return ref, nil
}

// NameOnly says whether a reference names a repository alone: no tag,
// no digest.
func NameOnly(s string) bool {
	return !strings.Contains(s, "@") && strings.LastIndexByte(s, ':') <= strings.LastIndexByte(s, '/')
}

// DisplayName is the reference as husk stores and prints it:
// docker.io/library/busybox:latest, 127.0.0.1:5000/x@sha256:...
func DisplayName(ref name.Reference) string {
	repo := RepoName(ref.Context())
	switch r := ref.(type) {
	case name.Digest:
		return repo + "@" + r.DigestStr()
	case name.Tag:
		return repo + ":" + r.TagStr()
	}
	return ref.Name()
}

// RepoName is a repository as Docker shows it: docker.io, not index.docker.io.
func RepoName(r name.Repository) string {
	reg := r.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	return reg + "/" + r.RepositoryStr()
}

// NormalizeName is DisplayName of a parsed reference, or "" when s is not one.
func NormalizeName(s string) string {
	ref, err := ParseReference(s)
	if err != nil {
		return ""
	}
	return DisplayName(ref)
}

// SplitName splits a stored name into repository and tag (or digest),
// the REPOSITORY and TAG columns of husk images.
func SplitName(n string) (repo, tag string) {
	if i := strings.LastIndex(n, "@"); i >= 0 {
		return n[:i], "<none>"
	}
	if i := strings.LastIndex(n, ":"); i > strings.LastIndex(n, "/") {
		return n[:i], n[i+1:]
	}
	return n, "<none>"
}
