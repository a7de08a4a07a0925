package build

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	digest "github.com/opencontainers/go-digest"
)

func digestFromString(s string) digest.Digest { return digest.Digest(s) }

// dispatch runs one instruction of the stage.
func (st *stage) dispatch(c instructions.Command, n, total int) error {
	if _, isArg := c.(*instructions.ArgCommand); !isArg {
		if err := st.expandCmd(c); err != nil {
			return err
		}
	}
	cfg := &st.cfg.Config
	code := fmt.Sprint(c)
	switch c := c.(type) {
	case *instructions.ArgCommand:
		return st.arg(c, n, total)
	case *instructions.EnvCommand:
		for _, kv := range c.Env {
			cfg.Env = setEnv(cfg.Env, kv.Key, kv.Value)
		}
	case *instructions.LabelCommand:
		if cfg.Labels == nil {
			cfg.Labels = map[string]string{}
		}
		for _, kv := range c.Labels {
			cfg.Labels[kv.Key] = kv.Value
		}
	case *instructions.MaintainerCommand:
		st.cfg.Author = c.Maintainer
	case *instructions.ExposeCommand:
		ports, err := st.expandWords(c.Ports)
		if err != nil {
			return err
		}
		if cfg.ExposedPorts == nil {
			cfg.ExposedPorts = map[string]struct{}{}
		}
		for _, p := range ports {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			cfg.ExposedPorts[p] = struct{}{}
		}
		code = "EXPOSE " + portList(cfg.ExposedPorts)
	case *instructions.UserCommand:
		cfg.User = c.User
	case *instructions.VolumeCommand:
		if cfg.Volumes == nil {
			cfg.Volumes = map[string]struct{}{}
		}
		for _, v := range c.Volumes {
			if v == "" {
				return fmt.Errorf("VOLUME with an empty path: name the directory")
			}
			cfg.Volumes[v] = struct{}{}
		}
	case *instructions.StopSignalCommand:
		cfg.StopSignal = c.Signal
	case *instructions.HealthCheckCommand:
		b, _ := json.Marshal(c.Health)
		var h v1.HealthConfig
		_ = json.Unmarshal(b, &h)
		cfg.Healthcheck = &h
	case *instructions.ShellCommand:
		cfg.Shell = c.Shell
	case *instructions.OnbuildCommand:
		cfg.OnBuild = append(cfg.OnBuild, c.Expression)
	case *instructions.CmdCommand:
		cfg.Cmd = st.command(c.ShellDependantCmdLine)
		st.cmdSet = true
		code = "CMD " + jsonArgs(cfg.Cmd)
	case *instructions.EntrypointCommand:
		cfg.Entrypoint = st.command(c.ShellDependantCmdLine)
		if !st.cmdSet {
			cfg.Cmd = nil // an inherited CMD goes with a new ENTRYPOINT
		}
		code = "ENTRYPOINT " + jsonArgs(cfg.Entrypoint)
	case *instructions.WorkdirCommand:
		return st.workdirStep(c, n, total)
	case *instructions.RunCommand:
		return st.runStep(c, n, total)
	case *instructions.CopyCommand:
		return st.copyStep(c, n, total, c.From, c.SourcesAndDest, c.Chown, c.Chmod, false)
	case *instructions.AddCommand:
		if len(c.SourcePaths) > 0 && isHTTP(c.SourcePaths[0]) {
			return st.addURLs(c, n, total)
		}
		return st.copyStep(c, n, total, "", c.SourcesAndDest, c.Chown, c.Chmod, true)
	default:
		return fmt.Errorf("%s is not supported by husk build: remove it", strings.ToUpper(c.Name()))
	}
	st.configStep(c, n, total, code)
	return nil
}

// arg declares build args: the --build-arg value, else a value that
// came before the first FROM, else the default.
func (st *stage) arg(c *instructions.ArgCommand, n, total int) error {
	for _, kv := range c.Args {
		v, given := st.b.o.BuildArgs[kv.Key]
		if !given {
			if mv, ok := st.b.meta[kv.Key]; ok {
				v, given = mv, true
			}
		}
		if !given && kv.Value != nil {
			var err error
			if v, err = st.b.expand(*kv.Value, st.env()); err != nil {
				return err
			}
		}
		st.args = setEnv(st.args, kv.Key, v)
	}
	st.b.show(st, n, total, fmt.Sprint(c), false)
	st.key = nextKey(st.key, st.keyOf(c)...)
	return nil
}

func (st *stage) expandWords(words []string) ([]string, error) {
	var out []string
	for _, w := range words {
		ws, err := st.b.lexer().ProcessWords(w, envGetter(st.env()))
		if err != nil {
			return nil, err
		}
		out = append(out, ws...)
	}
	return out, nil
}

// command is CMD's, ENTRYPOINT's or RUN's argv: the exec form as given,
// the shell form through the SHELL in force.
func (st *stage) command(c instructions.ShellDependantCmdLine) []string {
	if !c.PrependShell {
		return append([]string{}, c.CmdLine...)
	}
	sh := st.cfg.Config.Shell
	if len(sh) == 0 {
		sh = []string{"/bin/sh", "-c"}
	}
	return append(append([]string{}, sh...), strings.Join(c.CmdLine, " "))
}

func (st *stage) workdirStep(c *instructions.WorkdirCommand, n, total int) error {
	wd := st.workdir(c.Path)
	st.cfg.Config.WorkingDir = wd
	return st.layerStep(c, n, total, "WORKDIR "+wd, nil, false, func(root string) error {
		w := &writer{root: root}
		full, err := w.mkdirs(wd + "/.")
		if err != nil {
			return err
		}
		return os.MkdirAll(full, 0o755)
	})
}

func (st *stage) runStep(c *instructions.RunCommand, n, total int) error {
	args := st.command(withHeredocs(c.ShellDependantCmdLine))
	cfg := st.cfg.Config
	env := st.env()
	if !hasEnv(env, "PATH") {
		env = append(env, "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")
	}
	createdBy := "RUN " + strings.Join(args, " ") + " # buildkit"
	extra := []string{strings.Join(args, "\x00"), strings.Join(env, "\x00"), cfg.WorkingDir, cfg.User}
	mkey, err := st.mountsKey(c)
	if err != nil {
		return err
	}
	extra = append(extra, mkey...)
	if k, ok := st.b.o.Runner.(interface{ CacheKey() string }); ok && k.CacheKey() != "" {
		extra = append(extra, k.CacheKey())
	}
	return st.layerStep(c, n, total, createdBy, extra, true, func(root string) error {
		made := missing(root)
		mounts, err := st.prepareMounts(c, root)
		if err != nil {
			return err
		}
		out, closeOut := st.b.stepOutput(st)
		code, err := st.b.o.Runner.Run(st.b.ctx, Process{
			Root: root, Args: args, Env: env, Cwd: orRoot(cfg.WorkingDir), User: cfg.User, Mounts: mounts.ops,
			Stdout: out, Stderr: out, Network: stepNetwork(st.b.o.Network, instructions.GetNetwork(c)),
		})
		closeOut()
		mounts.release(root)
		removeMountPoints(root, made)
		if err != nil {
			return err
		}
		if code != 0 {
			return stepFailed(st.b.o.Dockerfile.Name, lineOf(c.Location()), strings.Join(c.CmdLine, " "), code)
		}
		return nil
	})
}

// withHeredocs is a shell-form RUN with its heredocs, as BuildKit runs
// it: a command that is only a heredoc runs the heredoc's text as the
// script; otherwise the shell gets the command line and the documents
// whole, and handles them itself.
func withHeredocs(c instructions.ShellDependantCmdLine) instructions.ShellDependantCmdLine {
	if len(c.Files) == 0 || len(c.CmdLine) != 1 {
		return c
	}
	if h := parser.MustParseHeredoc(c.CmdLine[0]); h != nil {
		data := c.Files[0].Data
		if c.Files[0].Chomp {
			data = parser.ChompHeredocContent(data)
		}
		c.CmdLine = []string{data}
		return c
	}
	var b strings.Builder
	b.WriteString(c.CmdLine[0])
	for _, f := range c.Files {
		b.WriteByte('\n')
		b.WriteString(f.Data)
		b.WriteString(f.Name)
	}
	c.CmdLine = []string{b.String()}
	return c
}

func orRoot(wd string) string {
	if wd == "" {
		return "/"
	}
	return wd
}

// copyStep is COPY or ADD: from the context, or with --from from a
// stage or an image.
func (st *stage) copyStep(c instructions.Command, n, total int, from string, sd instructions.SourcesAndDest, chown, chmod string, unpack bool) error {
	spec := &copySpec{dest: st.workdir(sd.DestPath), destDir: isDirPath(sd.DestPath), chown: chown, chmod: chmod, unpack: unpack, contents: sd.SourceContents}
	if e, ok := c.(instructions.SupportsSingleWordExpansionRaw); ok {
		if err := e.ExpandRaw(func(w string) (string, error) { return st.b.expand(w, st.env()) }); err != nil {
			return err
		}
	}
	if spec.dest == "/" {
		spec.destDir = true
	}
	var extra []string
	fill := spec.apply
	if from == "" {
		spec.from = st.b.o.Context
		srcs, err := spec.from.Sources(sd.SourcePaths)
		if err != nil {
			return err
		}
		hash, err := spec.from.Hash(srcs)
		if err != nil {
			return err
		}
		spec.srcs, extra = srcs, []string{hash}
		for _, sc := range spec.contents {
			extra = append(extra, sc.Path, sc.Data)
		}
	} else {
		// The source's key is enough for the cache: its root is mounted
		// only when the step runs.
		_, key, err := st.b.source(from, st.index)
		if err != nil {
			return err
		}
		extra = []string{key}
		fill = func(root string) error {
			ctx, _, done, err := st.b.fromRoot(from, st.index)
			if err != nil {
				return err
			}
			defer done()
			spec.from = ctx
			if spec.srcs, err = ctx.Sources(sd.SourcePaths); err != nil {
				return err
			}
			return spec.apply(root)
		}
	}
	createdBy := fmt.Sprint(c) + " # buildkit"
	return st.layerStep(c, n, total, createdBy, extra, true, fill)
}

// fromRoot mounts the root of a stage or an image for COPY --from and
// RUN --mount=type=bind,from=.
func (b *builder) fromRoot(from string, before int) (*Context, string, func(), error) {
	top, key, err := b.source(from, before)
	if err != nil {
		return nil, "", nil, err
	}
	root, err := mountScratch(b.s, top)
	if err != nil {
		return nil, "", nil, err
	}
	return &Context{Dir: root.Dir, From: "--from=" + from}, key, root.drop, nil
}

// source is the top layer and cache key of a stage (built first) or an
// image named by --from or from=.
func (b *builder) source(from string, before int) (top, key string, err error) {
	if j, ok := b.stageRef(from, before); ok {
		st, err := b.buildStage(j)
		if err != nil {
			return "", "", err
		}
		return st.top, st.key, nil
	}
	img, _, err := b.image(from)
	if err != nil {
		return "", "", fmt.Errorf("from %s: no stage of that name before this one, and %w", from, err)
	}
	return img.TopLayer, "image:" + img.ID, nil
}

func setEnv(env []string, k, v string) []string {
	for i, kv := range env {
		if strings.SplitN(kv, "=", 2)[0] == k {
			out := append([]string{}, env...)
			out[i] = k + "=" + v
			return out
		}
	}
	return append(append([]string{}, env...), k+"="+v)
}

func hasEnv(env []string, k string) bool {
	for _, kv := range env {
		if strings.SplitN(kv, "=", 2)[0] == k {
			return true
		}
	}
	return false
}

func jsonArgs(a []string) string {
	if a == nil {
		a = []string{}
	}
	b, _ := json.Marshal(a)
	return string(b)
}

func portList(ports map[string]struct{}) string {
	var out []string
	for p := range ports {
		out = append(out, p)
	}
	sort.Strings(out)
	return strings.Join(out, " ")
}

func envGetter(env []string) shell.EnvGetter { return shell.EnvsFromSlice(env) }

// stepOutput is where a RUN step's output goes: the build's stderr, the
// live view's step, or nowhere with -q; the func ends it after the step.
func (b *builder) stepOutput(st *stage) (*os.File, func()) {
	if b.devNull != nil {
		return b.devNull, func() {}
	}
	if b.live != nil {
		return b.live.output(st.index)
	}
	return os.Stderr, func() {}
}

// stepNetwork is a RUN step's network: RUN --network=none or host, else
// the build's.
func stepNetwork(build Network, run instructions.NetworkMode) Network {
	switch run {
	case instructions.NetworkNone, instructions.NetworkHost:
		return Network{Mode: string(run)}
	}
	return build
}
