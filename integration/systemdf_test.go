package integration

import (
	"regexp"
	"strings"
	"testing"
)

// husk system df: images and containers, how many are in use, and what
// removing the unused ones would free.
func TestSystemDf(t *testing.T) {
	e, ref := busyboxEnv(t, "")
	e.pull(plain.Ref("layers:latest"))
	e.out("run", "--name", "writer", ref, "sh", "-c", "head -c 2097152 /dev/zero > /big")
	got := map[string][]string{}
	for _, l := range lines(e.out("system", "df", "--format", "{{.Type}}|{{.TotalCount}}|{{.Active}}|{{.Size}}|{{.Reclaimable}}")) {
		f := strings.Split(l, "|")
		got[f[0]] = f
	}
	img, ct := got["Images"], got["Containers"]
	if len(img) != 5 || img[1] != "2" || img[2] != "1" {
		t.Errorf("Images: want 2, 1 in use: %q", img)
	}
	if len(ct) != 5 || ct[1] != "1" || ct[2] != "0" || !regexp.MustCompile(`^[2-9][0-9.]*MB$`).MatchString(ct[3]) || !strings.HasSuffix(ct[4], "(100%)") {
		t.Errorf("Containers: want 1, none running, over 2 MB, all reclaimable: %q", ct)
	}
	table := lines(e.out("system", "df"))
	if len(table) != 5 || !regexp.MustCompile(`^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE$`).MatchString(table[0]) || !strings.HasPrefix(table[3], "Local Volumes") {
		t.Errorf("system df: want Docker's table: %q", table)
	}
	e.out("rm", "writer")
}
