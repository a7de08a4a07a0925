package usernet

import (
	"net/netip"
	"os"
	"strings"
	"testing"
)

func testStore(t *testing.T) *Store {
	dir := t.TempDir()
	return &Store{dir: dir}
}

func TestCreatePicksFreeSubnets(t *testing.T) {
	s := testStore(t)
	a, err := s.Create(Spec{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Create(Spec{Name: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if a.Subnet.String() != "10.89.1.0/24" || b.Subnet.String() != "10.89.2.0/24" || a.Gateway.String() != "10.89.1.1" {
		t.Errorf("subnets %s (gw %s), %s", a.Subnet, a.Gateway, b.Subnet)
	}
	for _, sp := range []Spec{
		{Name: "a"},
		{Name: "host"},
		{Name: "bad/name"},
		{Name: "c", Subnet: netip.MustParsePrefix("10.89.1.128/25")},
		{Name: "d", Subnet: netip.MustParsePrefix("10.5.0.0/28")},
		{Name: "e", Options: map[string]string{"mtu": "9000"}},
	} {
		if _, err := s.Create(sp); err == nil {
			t.Errorf("create %+v: want an error", sp)
		}
	}
	if got, err := s.Get(a.ID[:6]); err != nil || got.Name != "a" {
		t.Errorf("get by ID prefix: %v %v", got, err)
	}
	if err := s.Remove("a"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("a"); err == nil {
		t.Error("a removed network is still found")
	}
	ents, _ := os.ReadDir(s.dir)
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".rm-") || strings.HasPrefix(e.Name(), ".new-") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}

func TestLeases(t *testing.T) {
	s := testStore(t)
	n, err := s.Create(Spec{Name: "n", Subnet: netip.MustParsePrefix("10.7.0.0/24")})
	if err != nil {
		t.Fatal(err)
	}
	live := map[string]bool{"c1": true, "c2": true, "c3": true}
	exists := func(id string) bool { return live[id] }
	a1, err := s.Lease(n, "c1", netip.Addr{}, exists)
	if err != nil || a1.String() != "10.7.0.2" {
		t.Fatalf("first lease %s %v", a1, err)
	}
	want := netip.MustParseAddr("10.7.0.9")
	if a2, err := s.Lease(n, "c2", want, exists); err != nil || a2 != want {
		t.Fatalf("--ip lease %s %v", a2, err)
	}
	for _, bad := range []string{"10.7.0.9", "10.7.0.1", "10.7.0.255", "10.8.0.3"} {
		if _, err := s.Lease(n, "c3", netip.MustParseAddr(bad), exists); err == nil {
			t.Errorf("lease of %s: want an error", bad)
		}
	}
	if err := s.Release("c1"); err != nil {
		t.Fatal(err)
	}
	if a3, err := s.Lease(n, "c3", netip.Addr{}, exists); err != nil || a3 != a1 {
		t.Errorf("a released address is given again: %s %v", a3, err)
	}
}
