package sandbox

import (
	"fmt"
	"path/filepath"
)

func scratchFile(dir string, i int) string {
	return filepath.Join(dir, "files", fmt.Sprint(i))
}
