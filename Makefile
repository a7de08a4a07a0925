# husk: one static binary. See README.md.
GO      ?= go
TAGS    := exclude_graphdriver_btrfs exclude_graphdriver_devicemapper exclude_graphdriver_zfs containers_image_openpgp netgo osusergo
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -linkmode external -extldflags "-static"

export CGO_ENABLED := 1

.PHONY: husk all run test unit integration bench vet prepare

all: husk

# The binary: cgo on for libseccomp (linked statically from libseccomp-dev).
husk:
	@test -f /usr/lib/x86_64-linux-gnu/libseccomp.a || { echo "make: libseccomp.a is missing: install libseccomp-dev (sudo apt-get install -y libseccomp-dev)" >&2; exit 1; }
	$(GO) build -tags '$(TAGS)' -trimpath -ldflags '$(LDFLAGS)' -o husk .

# The README's first command: husk's main job on its embedded default, an
# isolated shell over this host (no image, network or registry needed).
run: husk
	./husk shell

# Unit tests, then the integration suite as unprivileged users. As root this
# first prepares the machine (packages, test users, device modes).
test:
	GO='$(GO)' TAGS='$(TAGS)' bash integration/run.sh

unit:
	$(GO) test -tags '$(TAGS)' $$($(GO) list -tags '$(TAGS)' ./... | grep -v /integration)

bench: husk
	GO='$(GO)' TAGS='$(TAGS)' bash integration/bench.sh

vet:
	$(GO) vet -tags '$(TAGS)' ./...
