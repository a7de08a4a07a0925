package volume

import (
	"errors"
	"testing"

	"husk/sandbox/abi"
)

func TestCreateListRemove(t *testing.T) {
	t.Setenv(abi.EnvRoot, t.TempDir())
	vs, err := Open()
	if err != nil {
		t.Fatal(err)
	}
	v, created, err := vs.Create(Spec{Name: "data", Labels: map[string]string{"a": "b"}})
	if err != nil || !created || v.Driver != "local" || v.Scope != "local" || v.Labels["a"] != "b" {
		t.Fatalf("create: %+v %v %v", v, created, err)
	}
	if !v.Fillable() {
		t.Error("a new volume is not fillable")
	}
	if err := v.MarkFilled(); err != nil || v.Fillable() {
		t.Errorf("after MarkFilled: fillable %v, %v", v.Fillable(), err)
	}
	if _, created, err := vs.Create(Spec{Name: "data"}); err != nil || created {
		t.Errorf("second create of data: created %v, %v", created, err)
	}
	anon, _, err := vs.Create(Spec{Anonymous: true})
	if err != nil || len(anon.Name) != 64 {
		t.Fatalf("anonymous: %+v %v", anon, err)
	}
	all, err := vs.List()
	if err != nil || len(all) != 2 {
		t.Fatalf("list: %v %v", all, err)
	}
	if err := vs.Remove("data"); err != nil {
		t.Fatal(err)
	}
	if _, err := vs.Get("data"); !errors.Is(err, ErrNoSuchVolume) {
		t.Errorf("get after remove: %v", err)
	}
}

func TestBadOptions(t *testing.T) {
	t.Setenv(abi.EnvRoot, t.TempDir())
	vs, _ := Open()
	for _, o := range []map[string]string{
		{"colour": "blue"}, {"type": "nfs"}, {"type": "bind", "device": "relative"},
		{"type": "tmpfs", "o": "weird"}, {"device": "/tmp"},
	} {
		if _, _, err := vs.Create(Spec{Name: "v1", Options: o}); err == nil {
			t.Errorf("options %v: want an error", o)
		}
	}
	if _, _, err := vs.Create(Spec{Name: "b@d"}); err == nil {
		t.Error("name b@d: want an error")
	}
	if all, _ := vs.List(); len(all) != 0 {
		t.Errorf("bad input created %v", all)
	}
}
