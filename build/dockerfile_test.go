package build

import (
	"strings"
	"testing"
)

// Errors name the file and the instruction's line, even after a line
// continuation, before anything runs.
func TestParseErrorsNameTheLine(t *testing.T) {
	cases := map[string]string{
		"FROM scratch\nRUN true\nBOGUS x\n":         "Dockerfile:3: unknown instruction: BOGUS",
		"FROM scratch\nENV A=1 \\\n  B\n":           "Dockerfile:2: Syntax error",
		"RUN true\n":                                "Dockerfile:1:",
		"FROM scratch\nRUN --mount=type=ssh true\n": "Dockerfile:2: RUN --mount=type=ssh is not supported",
		"# only a comment\n":                        "file with no instructions",
	}
	for df, want := range cases {
		_, err := Parse("Dockerfile", []byte(df))
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("Parse(%q) = %v, want one line containing %q", df, err, want)
		}
	}
}

func TestParseStages(t *testing.T) {
	df, err := Parse("Dockerfile", []byte("ARG V=1\nFROM scratch AS a\nCOPY x /\nFROM a\nCMD [\"x\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(df.Stages) != 2 || df.Stages[0].Name != "a" || len(df.MetaArgs) != 1 || len(df.Stages[1].Commands) != 1 {
		t.Errorf("stages: %+v", df.Stages)
	}
}

func TestChainIDAndCacheKeys(t *testing.T) {
	if nextKey("a", "b") == nextKey("a", "c") || nextKey("a", "b", "c") == nextKey("a", "bc") {
		t.Error("cache keys collide")
	}
	if chainID("", "sha256:abc") != "abc" {
		t.Error("the bottom layer's chain ID is its diff ID")
	}
}
