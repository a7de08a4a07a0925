package cli

import (
	"encoding/json"
	"fmt"
	"path"
	"strings"
	"time"

	storage "go.podman.io/storage"

	"husk/store"
)

// imageFilter is `husk images`' --filter and REPOSITORY[:TAG] argument, by
// Docker's rules: filters of one key are alternatives, of different keys
// all must hold.
type imageFilter struct {
	by    map[string][]string
	times map[string]time.Time // before= and since=: the named image's creation
}

func newImageFilter(s *store.Store, specs []string, repo string) (*imageFilter, error) {
	f := &imageFilter{by: map[string][]string{}, times: map[string]time.Time{}}
	if repo != "" {
		f.by["reference"] = append(f.by["reference"], repo)
	}
	for _, spec := range specs {
		k, v, ok := strings.Cut(spec, "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("invalid --filter %q: use KEY=VALUE", spec)
		case k == "dangling" && v != "true" && v != "false":
			return nil, fmt.Errorf("invalid --filter %q: dangling= takes true or false", spec)
		case k == "before" || k == "since":
			img, err := s.Lookup(v)
			if err != nil {
				return nil, fmt.Errorf("--filter %s: %w", spec, err)
			}
			f.times[k] = img.Created
		case k == "reference":
			if _, err := path.Match(v, ""); err != nil {
				return nil, fmt.Errorf("invalid --filter %q: %w: use a pattern such as busybox* or */app:v1", spec, err)
			}
		case k != "dangling" && k != "label":
			return nil, fmt.Errorf("invalid --filter %q: use dangling=, label=, reference=, before= or since=", spec)
		}
		f.by[k] = append(f.by[k], v)
	}
	return f, nil
}

// image: whether the image passes the filters that look at the image.
func (f *imageFilter) image(s *store.Store, img *storage.Image) bool {
	if t, ok := f.times["before"]; ok && !img.Created.Before(t) {
		return false
	}
	if t, ok := f.times["since"]; ok && !img.Created.After(t) {
		return false
	}
	if vs, ok := f.by["dangling"]; ok && !anyOf(vs, func(v string) bool { return (v == "true") == (len(img.Names) == 0) }) {
		return false
	}
	if vs, ok := f.by["label"]; ok {
		labels := imageLabels(s, img)
		return anyOf(vs, func(v string) bool {
			k, want, hasValue := strings.Cut(v, "=")
			got, has := labels[k]
			return has && (!hasValue || got == want)
		})
	}
	return true
}

// name: whether one of the image's names passes reference= (Docker matches
// the short form users type, busybox:latest, as well as the full one).
func (f *imageFilter) name(n string) bool {
	vs, ok := f.by["reference"]
	if !ok {
		return true
	}
	repo, tag := store.SplitName(n)
	short := strings.TrimPrefix(strings.TrimPrefix(repo, "docker.io/"), "library/")
	return anyOf(vs, func(p string) bool {
		for _, cand := range []string{repo, repo + ":" + tag, short, short + ":" + tag} {
			if ok, _ := path.Match(p, cand); ok {
				return true
			}
		}
		return false
	})
}

func imageLabels(s *store.Store, img *storage.Image) map[string]string {
	b, err := s.Config(img)
	if err != nil {
		return nil
	}
	var cfg struct {
		Config struct{ Labels map[string]string }
	}
	_ = json.Unmarshal(b, &cfg)
	return cfg.Config.Labels
}

func anyOf(vs []string, ok func(string) bool) bool {
	for _, v := range vs {
		if ok(v) {
			return true
		}
	}
	return false
}
