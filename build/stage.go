package build

import (
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"runtime"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/parser"

	"husk/store"
)

// historyComment marks the steps of a Dockerfile build, as Docker's do.
const historyComment = "buildkit.dockerfile.v0"

// stage is one FROM ... section in progress: its config, its top layer
// and its cache key so far.
type stage struct {
	b        *builder
	index    int
	name     string
	commands []instructions.Command
	cfg      v1.ConfigFile
	top      string
	key      string
	args     []string // declared ARGs in scope, K=V, in order
	cmdSet   bool     // this stage set CMD
}

// newStage starts stage i from its base: scratch, an earlier stage or an
// image of the store (pulled when missing).
func (b *builder) newStage(i int) (*stage, error) {
	df := b.o.Dockerfile.Stages[i]
	st := &stage{b: b, index: i, name: df.Name, commands: df.Commands}
	base, err := b.expand(df.BaseName, b.metaEnv())
	if err != nil {
		return nil, b.errAt(df.Location, err)
	}
	if df.Platform != "" {
		p, _ := b.expand(df.Platform, b.metaEnv())
		if p != "linux/"+runtime.GOARCH && p != "" {
			return nil, b.errAt(df.Location, fmt.Errorf("FROM --platform=%s: husk builds for this host's platform linux/%s only: drop the flag", p, runtime.GOARCH))
		}
	}
	if j, ok := b.stageRef(base, i); ok {
		parent, err := b.buildStage(j)
		if err != nil {
			return nil, err
		}
		st.cfg, st.top, st.key = *parent.cfg.DeepCopy(), parent.top, parent.key
		st.cfg.Config.OnBuild = nil
		return st, nil
	}
	if strings.EqualFold(base, "scratch") {
		st.cfg = v1.ConfigFile{Architecture: runtime.GOARCH, OS: "linux", RootFS: v1.RootFS{Type: "layers"}}
		st.key = "scratch"
		return st, nil
	}
	if err := st.fromImage(base, df.Location); err != nil {
		return nil, err
	}
	return st, nil
}

// fromImage bases the stage on an image, running its ONBUILD triggers
// first, as Docker does.
func (st *stage) fromImage(ref string, loc []parser.Range) error {
	img, cfg, err := st.b.image(ref)
	if err != nil {
		return st.b.errAt(loc, err)
	}
	st.cfg, st.top, st.key = *cfg, img.TopLayer, "image:"+img.ID
	var triggers []instructions.Command
	for _, expr := range cfg.Config.OnBuild {
		c, err := parseTrigger(expr)
		if err != nil {
			return st.b.errAt(loc, fmt.Errorf("the ONBUILD trigger %q of %s: %w", expr, ref, err))
		}
		triggers = append(triggers, c)
	}
	st.cfg.Config.OnBuild = nil
	st.commands = append(triggers, st.commands...)
	return nil
}

func parseTrigger(expr string) (instructions.Command, error) {
	res, err := parser.Parse(strings.NewReader(expr))
	if err != nil {
		return nil, err
	}
	if len(res.AST.Children) != 1 {
		return nil, errors.New("not one instruction")
	}
	return instructions.ParseCommand(res.AST.Children[0])
}

// image finds ref in the store, pulling it when missing, and reads its
// config.
func (b *builder) image(ref string) (*imageRef, *v1.ConfigFile, error) {
	img, err := b.s.Lookup(ref)
	if b.o.AlwaysPull && b.o.Pull != nil {
		err = store.ErrNoSuchImage
	}
	if errors.Is(err, store.ErrNoSuchImage) && b.o.Pull != nil {
		if err = b.o.Pull(ref); err == nil {
			img, err = b.s.Lookup(ref)
		}
	}
	if err != nil {
		return nil, nil, err
	}
	raw, err := b.s.Config(img)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := v1.ParseConfigFile(strings.NewReader(string(raw)))
	if err != nil {
		return nil, nil, fmt.Errorf("reading the config of %s: %w: pull it again", ref, err)
	}
	return &imageRef{ID: img.ID, TopLayer: img.TopLayer}, cfg, nil
}

type imageRef struct{ ID, TopLayer string }

// run runs the stage's instructions in order.
func (st *stage) run() (err error) {
	if st.b.live != nil {
		defer func() { st.b.live.finish(st.index, err) }()
	}
	total := len(st.commands) + 1
	st.b.show(st, 1, total, st.b.o.Dockerfile.Stages[st.index].SourceCode, false)
	for i, c := range st.commands {
		if err := st.b.ctx.Err(); err != nil {
			return err
		}
		if err := st.dispatch(c, i+2, total); err != nil {
			return st.b.errAt(c.Location(), err)
		}
	}
	return nil
}

// env is what words expand against and RUN sees: the build args in
// scope, then the image's environment, which wins.
func (st *stage) env() []string {
	return append(append([]string{}, st.args...), st.cfg.Config.Env...)
}

func (st *stage) expandCmd(c instructions.Command) error {
	if e, ok := c.(instructions.SupportsSingleWordExpansion); ok {
		return e.Expand(func(w string) (string, error) { return st.b.expand(w, st.env()) })
	}
	return nil
}

// keyOf is an instruction as the cache sees it: its text, its expanded
// fields and the build args in scope.
func (st *stage) keyOf(c instructions.Command) []string {
	js, _ := json.Marshal(c)
	return []string{c.Name(), fmt.Sprint(c), string(js), argsKey(st.args)}
}

// configStep records an instruction that changes only the config.
func (st *stage) configStep(c instructions.Command, n, total int, createdBy string) {
	st.b.show(st, n, total, fmt.Sprint(c), false)
	st.key = nextKey(st.key, st.keyOf(c)...)
	st.history(createdBy, true)
}

func (st *stage) history(createdBy string, empty bool) {
	st.cfg.History = append(st.cfg.History, v1.History{
		Created: v1.Time{Time: time.Now().UTC()}, CreatedBy: createdBy, Comment: historyComment, EmptyLayer: empty,
	})
}

// layerStep runs fill over a writable copy of the image so far and adds
// what it changed as a layer, or takes the layer from the cache.
func (st *stage) layerStep(c instructions.Command, n, total int, createdBy string, extra []string, keepEmpty bool, fill func(root string) error) error {
	key := nextKey(st.key, append(st.keyOf(c), extra...)...)
	if e, ok := st.b.cache.get(key); ok && (e.Layer == "" || st.b.s.HasLayer(e.Layer)) {
		st.b.show(st, n, total, fmt.Sprint(c), true)
		st.addLayer(key, layer{ID: e.Layer, DiffID: digestFromString(e.DiffID)}, createdBy)
		return nil
	}
	st.b.show(st, n, total, fmt.Sprint(c), false)
	root, err := mountScratch(st.b.s, st.top)
	if err != nil {
		return err
	}
	defer root.drop()
	if err := fill(root.Dir); err != nil {
		return err
	}
	l, err := root.commit(keepEmpty)
	if err != nil {
		return err
	}
	st.b.cache.put(key, entry{Layer: l.ID, DiffID: l.DiffID.String(), Size: l.Size})
	st.addLayer(key, l, createdBy)
	return nil
}

func (st *stage) addLayer(key string, l layer, createdBy string) {
	st.key = key
	if l.ID == "" {
		st.history(createdBy, true)
		return
	}
	st.top = l.ID
	st.cfg.RootFS.Type = "layers"
	st.cfg.RootFS.DiffIDs = append(st.cfg.RootFS.DiffIDs, v1.Hash{Algorithm: "sha256", Hex: l.DiffID.Encoded()})
	st.history(createdBy, false)
}

// workdir is p made absolute against the current working directory.
func (st *stage) workdir(p string) string {
	if path.IsAbs(p) {
		return path.Clean(p)
	}
	wd := st.cfg.Config.WorkingDir
	if wd == "" {
		wd = "/"
	}
	return path.Join(wd, p)
}
