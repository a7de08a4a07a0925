package build

import (
	"errors"
	"slices"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func TestApplyChanges(t *testing.T) {
	cfg := v1.Config{Env: []string{"A=1"}, Cmd: []string{"old"}, WorkingDir: "/srv"}
	err := ApplyChanges(&cfg, []string{
		`CMD ["run", "it"]`, `ENTRYPOINT /bin/app $A`, `ENV B=$A-2`, `EXPOSE 80 53/udp`,
		`LABEL k=v`, `USER 7:8`, `WORKDIR sub`, `VOLUME /data`, `STOPSIGNAL SIGINT`, `ONBUILD RUN true`,
	})
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case !slices.Equal(cfg.Cmd, []string{"run", "it"}):
		t.Errorf("Cmd %q", cfg.Cmd)
	case !slices.Equal(cfg.Entrypoint, []string{"/bin/sh", "-c", "/bin/app $A"}):
		t.Errorf("Entrypoint %q", cfg.Entrypoint)
	case !slices.Equal(cfg.Env, []string{"A=1", "B=1-2"}):
		t.Errorf("Env %q", cfg.Env)
	case len(cfg.ExposedPorts) != 2 || cfg.Labels["k"] != "v" || cfg.User != "7:8" || cfg.WorkingDir != "/srv/sub":
		t.Errorf("config %+v", cfg)
	case len(cfg.Volumes) != 1 || cfg.StopSignal != "SIGINT" || !slices.Equal(cfg.OnBuild, []string{"RUN true"}):
		t.Errorf("config %+v", cfg)
	}
}

func TestApplyChangesRefused(t *testing.T) {
	for _, c := range []string{"RUN true", "FROM busybox", "COPY a b", "NOSUCH x", "CMD a\nCMD b"} {
		cfg := v1.Config{Cmd: []string{"keep"}}
		err := ApplyChanges(&cfg, []string{`CMD ["new"]`, c})
		var ue *UserError
		if !errors.As(err, &ue) {
			t.Errorf("%q: want a UserError, got %v", c, err)
		}
		if !slices.Equal(cfg.Cmd, []string{"keep"}) {
			t.Errorf("%q: a refused change list changed the config: %q", c, cfg.Cmd)
		}
	}
}
