package container

import (
	"crypto/rand"
	"fmt"
	"math/big"
)

// Generated names, Docker-like: an adjective and a noun.
var (
	adjectives = []string{"brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "merry", "nifty", "proud", "quiet", "sharp", "swift", "tender", "vivid", "witty", "zen", "bold"}
	nouns      = []string{"turing", "hopper", "lovelace", "knuth", "ritchie", "thompson", "torvalds", "curie", "noether", "euler", "gauss", "shannon", "dijkstra", "hamilton", "wozniak", "perlman", "liskov", "babbage", "kepler", "darwin"}
)

func pick(list []string) string {
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(list))))
	return list[n.Int64()]
}

func generateName(taken map[string]string) string {
	for i := 0; ; i++ {
		name := pick(adjectives) + "_" + pick(nouns)
		if i > 20 {
			name = fmt.Sprintf("%s%d", name, i)
		}
		if _, ok := taken[name]; !ok {
			return name
		}
	}
}
