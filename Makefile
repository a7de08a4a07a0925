# husk: one static binary. See README.md.
GO      ?= go
TAGS    := exclude_graphdriver_btrfs exclude_graphdriver_devicemapper exclude_graphdriver_zfs containers_image_openpgp netgo osusergo
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -linkmode external -extldflags "-static"

export CGO_ENABLED := 1

# libseccomp through pkg-config, linked statically.
PKG_CONFIG    ?= pkg-config
SECCOMP_LIBDIR = $(shell $(PKG_CONFIG) --variable=libdir libseccomp 2>/dev/null)

# The C executor (sandbox/executor) and its unit tests: warnings are errors.
# cgo builds the same files with CGO_WARN, the #cgo CFLAGS of
# sandbox/executor/executor.go (make lint checks that they agree); cgo's own
# generated code would fail -Wmissing-prototypes.
CC       ?= cc
CGO_WARN := -std=gnu11 -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wvla -Wstrict-prototypes -Wno-missing-field-initializers
CWARN    := $(CGO_WARN) -Wmissing-prototypes
CSRC   := $(wildcard sandbox/executor/*.c)
CTEST  := sandbox/executor/spec.c sandbox/executor/paths.c sandbox/executor/user.c sandbox/executor/launch.c sandbox/executor/filter.c sandbox/executor/landlock.c $(wildcard sandbox/executor/ctest/*.c)
CSAN   := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

.PHONY: husk all run test unit ctest fuzz integration bench vet lint prepare

all: husk

# The binary: cgo on for libseccomp (linked statically from libseccomp-dev).
husk:
	@test -n "$(SECCOMP_LIBDIR)" -a -f "$(SECCOMP_LIBDIR)/libseccomp.a" || { echo "make: libseccomp.a is missing: install pkg-config and libseccomp-dev (sudo apt-get install -y pkg-config libseccomp-dev)" >&2; exit 1; }
	CGO_LDFLAGS="$$($(PKG_CONFIG) --static --libs libseccomp)" $(GO) build -tags '$(TAGS)' -trimpath -ldflags '$(LDFLAGS)' -o husk .

# The README's first command: husk's main job on its embedded default, an
# isolated shell over this host (no image, network or registry needed).
run: husk
	./husk shell

# Unit tests, then the integration suite as unprivileged users. As root this
# first prepares the machine (packages, test users, device modes).
test:
	GO='$(GO)' TAGS='$(TAGS)' bash integration/run.sh

unit: ctest
	$(GO) test -tags '$(TAGS)' $$($(GO) list -tags '$(TAGS)' ./... | grep -v /integration)
	$(MAKE) --no-print-directory fuzz

# The C executor's unit tests, plain and under AddressSanitizer and
# UndefinedBehaviorSanitizer.
ctest:
	@dir=$$(mktemp -d) && trap 'rm -rf "$$dir"' EXIT && \
	$(CC) $(CWARN) -O1 -g -Isandbox/abi -o "$$dir/ctest" $(CTEST) && "$$dir/ctest" && \
	$(CC) $(CWARN) -O1 -g $(CSAN) -Isandbox/abi -o "$$dir/ctest-san" $(CTEST) && \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 "$$dir/ctest-san" && \
	echo "ctest: ok under -fsanitize=address,undefined"

# A few seconds of fuzzing (a count of inputs, not a time: a -fuzztime of
# seconds fails at its deadline with "context deadline exceeded" on a busy
# machine, Go's issue 75804, fixed only in Go 1.27), one worker each, from
# their seed corpora: the C
# init's spec decoder (sandbox/executor/testdata/fuzz), and the readers of
# what users type: references, image IDs, seccomp profiles, -p, -v and the other specs,
# env and label files.
FUZZ = FuzzDecodeSpec:./sandbox/executor FuzzParseReference:./store FuzzDockerGrammar:./store FuzzIDPrefix:./store FuzzProfile:./seccomp \
	FuzzParsePorts:./network FuzzUserSpecs:./sandbox FuzzListFile:./cli
fuzz:
	@for f in $(FUZZ); do \
		$(GO) test -tags '$(TAGS)' -run '^$$' -fuzz "^$${f%%:*}\$$" -fuzztime 10000x -parallel 1 "$${f#*:}" || exit 1; \
	done

bench: husk
	GO='$(GO)' TAGS='$(TAGS)' bash integration/bench.sh

vet:
	$(GO) vet -tags '$(TAGS)' ./...

# Go and C: go vet with the build's tags, gofmt, the C with every warning
# (as the build and ctest) and cppcheck.
lint: vet
	@grep -qF -- '$(CGO_WARN)' sandbox/executor/executor.go || { echo "make lint: the #cgo CFLAGS of sandbox/executor/executor.go are not CGO_WARN: $(CGO_WARN)" >&2; exit 1; }
	@out=$$(gofmt -l $$(find . -name '*.go' -not -path './.git/*')); test -z "$$out" || { echo "gofmt -l: not formatted:" >&2; echo "$$out" >&2; exit 1; }
	$(CC) $(CWARN) -fsyntax-only -Isandbox/abi $(CSRC) $(wildcard sandbox/executor/ctest/*.c)
	cppcheck --quiet --error-exitcode=1 --std=c11 --enable=warning,performance,portability --inline-suppr \
		-D__GNUC__ -D__linux__ -D__x86_64__ -Isandbox/abi -Isandbox/executor $(CSRC) $(wildcard sandbox/executor/ctest/*.c)
