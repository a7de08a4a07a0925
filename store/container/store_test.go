package container

import (
	"errors"
	"os"
	"strings"
	"sync"
	"testing"

	"husk/sandbox"
)

func TestCreateFindRename(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.Create(&Record{Name: "web"}, &sandbox.Config{Image: "busybox"})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.ID) != 64 || a.State.Status != Created {
		t.Fatalf("created %+v", a)
	}
	if _, err := s.Create(&Record{Name: "web"}, &sandbox.Config{}); err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Errorf("a taken name: got %v", err)
	}
	if _, err := s.Create(&Record{Name: "-bad"}, &sandbox.Config{}); err == nil {
		t.Error("an invalid name was accepted")
	}
	for _, q := range []string{a.ID, "web", a.ID[:5]} {
		if c, err := s.Find(q); err != nil || c.ID != a.ID {
			t.Errorf("Find(%q) = %v, %v", q, c, err)
		}
	}
	if _, err := s.Find("nosuch"); !errors.Is(err, ErrNoSuchContainer) {
		t.Errorf("Find(nosuch) = %v", err)
	}
	b, _ := s.Create(&Record{}, &sandbox.Config{})
	if b.Name == "" {
		t.Error("no generated name")
	}
	if err := s.Rename("web", b.Name); err == nil {
		t.Error("rename to a taken name was accepted")
	}
	if err := s.Rename("web", "site"); err != nil {
		t.Fatal(err)
	}
	if c, err := s.Find("site"); err != nil || c.ID != a.ID {
		t.Errorf("after rename: %v %v", c, err)
	}
	if err := s.Forget(a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(a.Dir()); !os.IsNotExist(err) {
		t.Errorf("Forget left %s", a.Dir())
	}
}

func TestAmbiguousPrefix(t *testing.T) {
	s, _ := Open(t.TempDir())
	seen := map[byte]string{}
	for i := 0; i < 40; i++ {
		c, _ := s.Create(&Record{}, &sandbox.Config{})
		if _, ok := seen[c.ID[0]]; ok {
			if _, err := s.Find(c.ID[:1]); err == nil || !strings.Contains(err.Error(), "ambiguous") {
				t.Errorf("Find(%q) with two matches = %v", c.ID[:1], err)
			}
			return
		}
		seen[c.ID[0]] = c.ID
	}
	t.Fatal("no two IDs shared a first digit in 40")
}

// A running container whose monitor is gone reads as exited; a --rm one
// as removed.
func TestSettle(t *testing.T) {
	s, _ := Open(t.TempDir())
	c, _ := s.Create(&Record{Name: "dead"}, &sandbox.Config{})
	r, _ := s.Create(&Record{Name: "gone"}, &sandbox.Config{AutoRemove: true})
	for _, id := range []string{c.ID, r.ID} {
		_, err := s.Update(id, func(st *State) error {
			st.Status, st.MonitorPID, st.MonitorStart = Running, 1<<30, 42
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Find("dead")
	if err != nil || got.Live() || got.State.Status != Exited || got.ExitCode != 137 {
		t.Errorf("a dead monitor: %+v %v", got, err)
	}
	if _, err := s.Find("gone"); err == nil {
		t.Error("a --rm container with a dead monitor is still found")
	}
	// Its record goes at the next create.
	s.Create(&Record{}, &sandbox.Config{})
	if _, err := os.Stat(r.Dir()); !os.IsNotExist(err) {
		t.Errorf("the abandoned --rm record is still there")
	}
	// This process is alive: a container it monitors is live.
	s.Update(c.ID, func(st *State) error {
		st.Status, st.MonitorPID, st.MonitorStart = Running, os.Getpid(), StartTime(os.Getpid())
		return nil
	})
	if got, _ := s.Find("dead"); !got.Live() {
		t.Errorf("a live monitor: %+v", got)
	}
}

func TestConcurrentCreateUniqueNames(t *testing.T) {
	s, _ := Open(t.TempDir())
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.Create(&Record{Name: "same"}, &sandbox.Config{})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		if err == nil {
			ok++
		}
	}
	if ok != 1 {
		t.Errorf("%d creates of one name succeeded, want 1", ok)
	}
}

// The config written at create is the one every later reader gets.
func TestConfigKept(t *testing.T) {
	s, _ := Open(t.TempDir())
	cfg := &sandbox.Config{Image: "busybox", User: "nobody", Restart: sandbox.RestartPolicy{Name: "always"}}
	c, err := s.Create(&Record{Name: "kept"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Describe(c.ID, "abc", []string{"sh"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Find("kept")
	if err != nil || got.Runnable() != nil {
		t.Fatalf("Find: %v %v", err, got.Runnable())
	}
	if got.Config.Version != sandbox.ConfigVersion || got.Config.User != "nobody" || got.Config.Restart.Name != "always" || got.Config.ImageID != "abc" {
		t.Errorf("config read back: %+v", got.Config)
	}
}

// A record of an earlier husk (its command line, no config) is listed and
// removable, and refuses to start with one line that says what to do.
func TestEarlierRecordRefused(t *testing.T) {
	s, _ := Open(t.TempDir())
	id := strings.Repeat("ab", 32)
	dir := s.dir + "/" + id
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(dir+"/record.json", []byte(`{"id":"`+id+`","name":"old","image":"busybox","argv":["-e","A=1","busybox"],"cwd":"/"}`), 0o600)
	os.WriteFile(dir+"/state.json", []byte(`{"status":"exited"}`), 0o600)
	c, err := s.Find("old")
	if err != nil {
		t.Fatal(err)
	}
	err = c.Runnable()
	if err == nil || !strings.Contains(err.Error(), "husk rm") || !strings.Contains(err.Error(), "create it again") || strings.Contains(err.Error(), "\n") {
		t.Errorf("an earlier record: want one line saying to remove and re-create it, got %v", err)
	}
	if c.Config.Image != "busybox" {
		t.Errorf("an earlier record's image for ps: %q", c.Config.Image)
	}
	if err := s.Forget(c.ID); err != nil {
		t.Errorf("an earlier record cannot be removed: %v", err)
	}
}

// A foreground run's --rm record whose husk died before it marked the
// container running (a prelaunched sandbox runs before then) is gone from
// ps and swept by the next create; one without --rm stays, as created;
// one whose husk lives stays.
func TestCreateHeldHolderGone(t *testing.T) {
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	held := func(rm bool) *Container {
		c, err := s.CreateHeld(&Record{}, &sandbox.Config{AutoRemove: rm})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	live, rm, kept := held(true), held(true), held(false)
	for _, c := range []*Container{rm, kept} {
		// The holder's pid, now another process's: its start time differs.
		if _, err := s.Update(c.ID, func(st *State) error { st.MonitorStart++; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	all, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, c := range all {
		ids = append(ids, c.ID)
	}
	if want := []string{live.ID, kept.ID}; strings.Join(ids, " ") != strings.Join(want, " ") {
		t.Errorf("listed %q, want the live holder's and the one without --rm: %q", ids, want)
	}
	if c, err := s.Find(kept.ID); err != nil || c.Status != Created {
		t.Errorf("the record without --rm: %+v, %v; want it created", c, err)
	}
	if _, err := s.Create(&Record{}, &sandbox.Config{}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(rm.Dir()); !os.IsNotExist(err) {
		t.Errorf("the next create left the abandoned record %s", rm.Dir())
	}
}
