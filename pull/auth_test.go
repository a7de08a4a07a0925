package pull

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// Logins at the same moment keep every entry: the auth file is edited
// under a lock.
func TestConcurrentLoginsKeepAllEntries(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("REGISTRY_AUTH_FILE", filepath.Join(dir, "auth.json"))
	var wg sync.WaitGroup
	for i := 0; i < 10; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := SaveLogin(fmt.Sprintf("127.0.0.1:%d", 5000+i), "u", "p"); err != nil {
				t.Error(err)
			}
		}(i)
	}
	wg.Wait()
	af, err := readAuthFile(AuthFile())
	if err != nil {
		t.Fatal(err)
	}
	if len(af.Auths) != 10 {
		t.Errorf("after 10 concurrent logins the auth file holds %d entries", len(af.Auths))
	}
}
