package build

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
)

// changeable are the instructions commit's and import's -c take, as
// Docker's --change does.
const changeable = "CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR"

// ApplyChanges applies Dockerfile instructions (commit's and import's -c)
// to an image's config, parsed by buildkit's parser and instructions
// package as a Dockerfile's are, variables expanded from the config's ENV.
// It changes nothing when any of them is refused.
func ApplyChanges(cfg *v1.Config, changes []string) error {
	out := *cfg
	lex := shell.NewLex(parser.DefaultEscapeToken)
	for _, line := range changes {
		if err := applyChange(&out, lex, line); err != nil {
			return &UserError{Msg: fmt.Sprintf("the change %q: %v", line, err)}
		}
	}
	*cfg = out
	return nil
}

func applyChange(cfg *v1.Config, lex *shell.Lex, line string) error {
	res, err := parser.Parse(strings.NewReader(line))
	if err != nil {
		return fmt.Errorf("%v: write one Dockerfile instruction, such as 'CMD [\"sh\"]'", rootCause(err))
	}
	if len(res.AST.Children) != 1 {
		return fmt.Errorf("give one instruction per -c")
	}
	c, err := instructions.ParseCommand(res.AST.Children[0])
	if err != nil {
		return fmt.Errorf("%v: fix the instruction (see the Dockerfile reference)", rootCause(err))
	}
	if e, ok := c.(instructions.SupportsSingleWordExpansion); ok {
		err = e.Expand(func(w string) (string, error) {
			out, _, err := lex.ProcessWord(w, shell.EnvsFromSlice(cfg.Env))
			return out, err
		})
		if err != nil {
			return err
		}
	}
	return changeConfig(cfg, c)
}

// changeConfig applies one config instruction, as a build's step would.
func changeConfig(cfg *v1.Config, c instructions.Command) error {
	switch c := c.(type) {
	case *instructions.EnvCommand:
		for _, kv := range c.Env {
			cfg.Env = setEnv(cfg.Env, kv.Key, kv.Value)
		}
	case *instructions.LabelCommand:
		labels := map[string]string{}
		for k, v := range cfg.Labels {
			labels[k] = v
		}
		for _, kv := range c.Labels {
			labels[kv.Key] = kv.Value
		}
		cfg.Labels = labels
	case *instructions.ExposeCommand:
		ports := map[string]struct{}{}
		for p := range cfg.ExposedPorts {
			ports[p] = struct{}{}
		}
		for _, p := range c.Ports {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			ports[p] = struct{}{}
		}
		cfg.ExposedPorts = ports
	case *instructions.UserCommand:
		cfg.User = c.User
	case *instructions.WorkdirCommand:
		wd := c.Path
		if !strings.HasPrefix(wd, "/") {
			wd = strings.TrimSuffix(cfg.WorkingDir, "/") + "/" + wd
		}
		cfg.WorkingDir = wd
	case *instructions.VolumeCommand:
		vols := map[string]struct{}{}
		for v := range cfg.Volumes {
			vols[v] = struct{}{}
		}
		for _, v := range c.Volumes {
			if v == "" {
				return fmt.Errorf("VOLUME with an empty path: name the directory")
			}
			vols[v] = struct{}{}
		}
		cfg.Volumes = vols
	case *instructions.StopSignalCommand:
		cfg.StopSignal = c.Signal
	case *instructions.OnbuildCommand:
		cfg.OnBuild = append(append([]string{}, cfg.OnBuild...), c.Expression)
	case *instructions.CmdCommand:
		cfg.Cmd = shellCommand(cfg, c.ShellDependantCmdLine)
	case *instructions.EntrypointCommand:
		cfg.Entrypoint = shellCommand(cfg, c.ShellDependantCmdLine)
	default:
		return fmt.Errorf("%s cannot be a change: use one of %s", strings.ToUpper(c.Name()), changeable)
	}
	return nil
}

// shellCommand is CMD's or ENTRYPOINT's argv: the exec form as given, the
// shell form through the image's SHELL.
func shellCommand(cfg *v1.Config, c instructions.ShellDependantCmdLine) []string {
	if !c.PrependShell {
		return append([]string{}, c.CmdLine...)
	}
	sh := cfg.Shell
	if len(sh) == 0 {
		sh = []string{"/bin/sh", "-c"}
	}
	return append(append([]string{}, sh...), strings.Join(c.CmdLine, " "))
}
