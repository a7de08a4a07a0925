package store

import (
	"bytes"
	"errors"
	"strings"
)

// dockerGrammar checks s against Docker's grammar of references, as
// distribution/reference's ParseNormalizedNamed does: NAME[:TAG][@DIGEST],
// the name an optional registry (host[:port], or [ipv6][:port]) and
// lowercase path components joined by '.', '_', '__' or dashes.
// go-containerregistry, which parses the reference for husk, lets names
// such as a..b or ../../etc/passwd through.
//
// It is written out rather than taken from distribution/reference: that
// package compiles ten regular expressions when any program that imports
// it starts, about 3 ms of every husk command here, a namespaced command
// paying it twice. grammar_test.go holds the two to the same answers.
func dockerGrammar(s string) error {
	if isHex64(s) {
		return errors.New("a 64-character hexadecimal string is an image ID, not a name")
	}
	name, digest, hasDigest := strings.Cut(s, "@")
	if hasDigest && !validDigest(digest) {
		return errors.New("the digest is not sha256:HEX (or sha384, sha512)")
	}
	if i := strings.LastIndexByte(name, ':'); i > strings.LastIndexByte(name, '/') {
		if !validTag(name[i+1:]) {
			return errors.New("the tag is not 1 to 128 letters, digits, '_', '.' or '-' (not '.' or '-' first)")
		}
		name = name[:i]
	}
	if pathLen(name) > 255 {
		return errors.New("the name's path is longer than 255 characters")
	}
	parts := strings.Split(name, "/")
	if allPaths(parts) || (len(parts) > 1 && validHost(parts[0]) && allPaths(parts[1:])) {
		return nil
	}
	return errors.New("the name is not [HOST[:PORT]/]PATH with lowercase letters and digits in each part of PATH, joined by '.', '_', '__' or '-'")
}

func allPaths(parts []string) bool {
	for _, p := range parts {
		if !validPathComponent(p) {
			return false
		}
	}
	return true
}

// validPathComponent: runs of [a-z0-9] joined by '.', '_', '__' or dashes.
func validPathComponent(p string) bool {
	for i := 0; i < len(p); {
		j := i
		for j < len(p) && isLowerAlnum(p[j]) {
			j++
		}
		if j == i {
			return false // a separator first, or two runs of them
		}
		if j == len(p) {
			return true
		}
		k := j
		for k < len(p) && !isLowerAlnum(p[k]) {
			k++
		}
		if k == len(p) || !validSeparator(p[j:k]) {
			return false
		}
		i = k
	}
	return false
}

func validSeparator(sep string) bool {
	return sep == "." || sep == "_" || sep == "__" || strings.Trim(sep, "-") == ""
}

// validHost: dot-separated labels of letters, digits and inner dashes, or
// a bracketed IPv6 address, then an optional :port.
func validHost(h string) bool {
	if strings.HasPrefix(h, "[") {
		end := strings.IndexByte(h, ']')
		if end < 2 || !only(h[1:end], isHexDigit, ':') {
			return false
		}
		rest := h[end+1:]
		return rest == "" || rest[0] == ':' && validPort(rest[1:])
	}
	if host, port, ok := strings.Cut(h, ":"); ok {
		return validDomain(host) && validPort(port)
	}
	return validDomain(h)
}

func validDomain(d string) bool {
	for _, label := range strings.Split(d, ".") {
		if label == "" || label[0] == '-' || label[len(label)-1] == '-' || !only(label, isAlnum, '-') {
			return false
		}
	}
	return true
}

func validPort(p string) bool { return p != "" && only(p, isDigit) }

// validTag: [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}.
func validTag(t string) bool {
	return t != "" && len(t) <= 128 && (isAlnum(t[0]) || t[0] == '_') && only(t, isAlnum, '_', '.', '-')
}

// validDigest: sha256, sha384 or sha512, a colon, and the sum in
// lowercase hex digits, as many as the algorithm gives.
func validDigest(d string) bool {
	alg, hex, _ := strings.Cut(d, ":")
	n := map[string]int{"sha256": 64, "sha384": 96, "sha512": 128}[alg]
	return n > 0 && len(hex) == n && only(hex, isLowerHex)
}

// pathLen is the length of name's path as Docker completes it: a name
// with no registry first is on docker.io, where one with no '/' in its
// path is under library/.
func pathLen(name string) int {
	domain, path, ok := strings.Cut(name, "/")
	switch {
	case !ok:
		domain, path = "docker.io", name
	case domain == "localhost", strings.ContainsAny(domain, ".:"), strings.ToLower(domain) != domain:
	default:
		domain, path = "docker.io", name
	}
	if (domain == "docker.io" || domain == "index.docker.io") && !strings.Contains(path, "/") {
		path = "library/" + path
	}
	return len(path)
}

func isHex64(s string) bool { return len(s) == 64 && only(s, isLowerHex) }

// only says whether every byte of s passes class or is one of extra.
func only(s string, class func(byte) bool, extra ...byte) bool {
	for i := 0; i < len(s); i++ {
		if !class(s[i]) && bytes.IndexByte(extra, s[i]) < 0 {
			return false
		}
	}
	return true
}

func isDigit(c byte) bool      { return c >= '0' && c <= '9' }
func isLetter(c byte) bool     { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isAlnum(c byte) bool      { return isLetter(c) || isDigit(c) }
func isLowerAlnum(c byte) bool { return c >= 'a' && c <= 'z' || isDigit(c) }
func isLowerHex(c byte) bool   { return isDigit(c) || c >= 'a' && c <= 'f' }
func isHexDigit(c byte) bool   { return isLowerHex(c) || c >= 'A' && c <= 'F' }
