// Package build builds images from Dockerfiles: buildkit's parser, its
// instructions package and its shell lexer read the file; each instruction
// then changes the image's config or adds a layer to husk's store (COPY and
// ADD from the context, RUN in a sandbox over the image built so far).
package build

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/linter"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
)

// Dockerfile is a parsed and checked Dockerfile.
type Dockerfile struct {
	Name     string // as the user named it, for errors
	Stages   []instructions.Stage
	MetaArgs []instructions.ArgCommand
	Escape   rune
}

// UserError is a build that failed on its input (the Dockerfile, the
// context, the flags): husk's own exit code, one line naming where.
type UserError struct{ Msg string }

func (e *UserError) Error() string { return e.Msg }

func userErrorf(format string, args ...any) error {
	return &UserError{Msg: fmt.Sprintf(format, args...)}
}

// Parse reads a Dockerfile whole and checks every instruction before any
// step runs, so that an error names its line whatever comes before it.
func Parse(name string, data []byte) (*Dockerfile, error) {
	res, err := parser.Parse(bytes.NewReader(data))
	if err != nil {
		return nil, located(name, err, "fix the Dockerfile's syntax")
	}
	lint := linter.New(&linter.Config{})
	stages, meta, err := instructions.Parse(res.AST, lint)
	if err != nil {
		return nil, located(name, err, "fix the instruction (see the Dockerfile reference)")
	}
	if len(stages) == 0 {
		return nil, userErrorf("%s: no FROM instruction: a Dockerfile starts with FROM IMAGE (or FROM scratch)", name)
	}
	df := &Dockerfile{Name: name, Stages: stages, MetaArgs: meta, Escape: res.EscapeToken}
	if err := df.check(); err != nil {
		return nil, err
	}
	return df, nil
}

// located is err as one line: FILE:LINE: what: fix.
func located(name string, err error, fix string) error {
	line := 0
	var le *parser.LocationError
	if errors.As(err, &le) && len(le.Locations) > 0 && len(le.Locations[0]) > 0 {
		line = le.Locations[0][0].Start.Line
	}
	msg := strings.ReplaceAll(rootCause(err).Error(), "\n", " ")
	if line > 0 {
		return userErrorf("%s:%d: %s: %s", name, line, msg, fix)
	}
	return userErrorf("%s: %s: %s", name, msg, fix)
}

// rootCause drops the wrappers that only repeat the location.
func rootCause(err error) error {
	for {
		var le *parser.LocationError
		if errors.As(err, &le) && le.Unwrap() != nil {
			err = le.Unwrap()
			continue
		}
		if u := errors.Unwrap(err); u != nil && strings.HasSuffix(err.Error(), u.Error()) && err.Error() != u.Error() && strings.HasPrefix(err.Error(), "dockerfile parse error") {
			err = u
			continue
		}
		return err
	}
}

// lineOf is the first line of an instruction.
func lineOf(loc []parser.Range) int {
	if len(loc) == 0 {
		return 0
	}
	return loc[0].Start.Line
}

// check refuses what husk does not do, naming the line, before anything
// runs.
func (df *Dockerfile) check() error {
	for i := range df.Stages {
		for _, c := range df.Stages[i].Commands {
			if err := df.checkCommand(c); err != nil {
				return err
			}
		}
	}
	return nil
}

func (df *Dockerfile) checkCommand(c instructions.Command) error {
	at := func(format string, args ...any) error {
		return userErrorf("%s:%d: %s", df.Name, lineOf(c.Location()), fmt.Sprintf(format, args...))
	}
	switch c := c.(type) {
	case *instructions.RunCommand:
		// The mounts are parsed only with an expander: the identity one
		// reads them as written (the step expands them again).
		if err := c.Expand(func(w string) (string, error) { return w, nil }); err != nil {
			return at("RUN --mount: %v: fix the flag (type=cache|bind|tmpfs|secret,target=PATH,...)", err)
		}
		for _, m := range instructions.GetMounts(c) {
			if m.Type == instructions.MountTypeSSH {
				return at("RUN --mount=type=ssh is not supported by husk build: fetch with a --secret instead")
			}
		}
		if len(c.Files) > 0 && !c.PrependShell {
			return at("a heredoc needs RUN's shell form: drop the JSON brackets")
		}
	case *instructions.CopyCommand:
		if c.Parents || len(c.ExcludePatterns) > 0 {
			return at("COPY --parents and --exclude are not supported by husk build yet: use .dockerignore")
		}
	case *instructions.AddCommand:
		if len(c.SourceContents) > 0 {
			return at("heredocs in ADD are not supported by husk build yet: put the content in a context file")
		}
		urls := 0
		for _, src := range c.SourcePaths {
			if isGitURL(src) {
				return at("ADD from a git repository (%s) is not supported by husk build: clone it into the context and COPY it", src)
			}
			if isHTTP(src) {
				urls++
			}
		}
		if urls > 0 && urls < len(c.SourcePaths) {
			return at("ADD mixes URLs and context files: give them in two ADD instructions")
		}
		if c.Checksum != "" && (urls != 1 || len(c.SourcePaths) != 1) {
			return at("ADD --checksum needs exactly one http(s) source: split the instruction")
		}
	}
	return nil
}
