# xar: make demo | make test | make install PREFIX=DIR | make bench
SHELL := /bin/bash
PREFIX ?= /usr/local
CONFIG ?= Release
OUT := out
# This machine's runtime identifier: linux-x64, linux-arm64.
RID := linux-$(shell uname -m | sed 's/x86_64/x64/; s/aarch64/arm64/')
# Debian packages the tests talk to (the real peers) and the system codecs we load.
TEST_DEBS := squashfs-tools squashfs-tools-ng squashfuse fuse3 attr openssl python3 strace libzstd1 liblzma5 liblzo2-2 liblz4-1 libdeflate0 zlib1g libzstd-dev liblzma-dev liblz4-dev gcc procps liblzo2-dev desktop-file-utils dex libglib2.0-bin docker-registry apache2-utils curl minisign python3-pip python3-setuptools python3-wheel python3-dev python3-venv
# xar node's tests (npm ci, node) install these only when node or npm is missing: a node from another source
# (one that bundles npm) conflicts with Debian's npm package, and is just as good.
NODE_DEBS := nodejs npm
NODE_TOOLS := node npm
# Static codec archives xarexec links in (src/Launcher/Xar.Launcher.csproj), so a self-contained executable needs only glibc.
MULTIARCH := $(shell dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || gcc -print-multiarch 2>/dev/null)
CODEC_LIB_DIR := /usr/lib/$(MULTIARCH)
STATIC_CODECS := $(CODEC_LIB_DIR)/libzstd.a $(CODEC_LIB_DIR)/liblzma.a $(CODEC_LIB_DIR)/liblz4.a $(CODEC_LIB_DIR)/liblzo2.a
TEST_LIBS := libzstd.so.1 liblzma.so.5 liblzo2.so.2 liblz4.so.1 libdeflate.so.0
TEST_TOOLS := mksquashfs unsquashfs gensquashfs squashfuse squashfuse_ll fusermount3 setfattr openssl python3 strace gcc pgrep desktop-file-validate dex gio docker-registry htpasswd curl minisign pip3 python3-config
# xar python's tests build samples/python into wheels offline with Debian's interpreter: these modules too.
TEST_PY_MODULES := setuptools,wheel,venv,ensurepip
# And what the benchmarks time with.
BENCH_DEBS := hyperfine

.PHONY: all build publish demo test deps install bench clean

all: build

build:
	dotnet build Xar.sln -c $(CONFIG) -nologo -v q

# xar and xarexec, both NativeAOT executables, into out/bin.
publish:
	dotnet publish src/Packer/Xar.Packer.csproj -c $(CONFIG) -r $(RID) -nologo -v q -o $(OUT)/xar
	dotnet publish src/Launcher/Xar.Launcher.csproj -c $(CONFIG) -r $(RID) -nologo -v q -o $(OUT)/xarexec $(if $(MULTIARCH),-p:CodecLibDir=$(CODEC_LIB_DIR))
	mkdir -p $(OUT)/bin
	ln -sf ../xar/xar $(OUT)/bin/xar
	cp -f $(OUT)/xarexec/xarexec $(OUT)/bin/xarexec
	ln -sf xarexec $(OUT)/bin/xarexec_fuse

# Installs the Debian packages the tests need when one is missing (as root), quietly.
deps:
	@missing=""; for t in $(TEST_TOOLS); do command -v $$t >/dev/null 2>&1 || [ -x /usr/sbin/$$t ] || [ -x /sbin/$$t ] || missing=1; done; \
	for l in $(TEST_LIBS); do /sbin/ldconfig -p 2>/dev/null | grep -q "$$l " || missing=1; done; \
	for a in $(STATIC_CODECS); do [ -f $$a ] || missing=1; done; \
	/usr/bin/python3 -c 'import $(TEST_PY_MODULES)' 2>/dev/null || missing=1; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "make deps: installing $(TEST_DEBS)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(TEST_DEBS) >/dev/null; \
	  else echo "make deps: some test tools are missing; as root run: apt-get install $(TEST_DEBS)" >&2; fi; \
	fi
	@missing=""; for t in $(NODE_TOOLS); do command -v $$t >/dev/null 2>&1 || missing=1; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "make deps: installing $(NODE_DEBS)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(NODE_DEBS) >/dev/null; \
	  else echo "make deps: node or npm is missing; as root run: apt-get install $(NODE_DEBS)" >&2; fi; \
	fi

demo: deps build publish
	bash samples/demo.sh $(OUT)/bin

test: deps build publish
	XAR_BIN=$(CURDIR)/$(OUT)/bin bash tests/run.sh

install: publish
	mkdir -p $(PREFIX)/bin $(PREFIX)/lib/xar
	rm -rf $(PREFIX)/lib/xar/xar && cp -a $(OUT)/xar $(PREFIX)/lib/xar/xar
	ln -sf ../lib/xar/xar/xar $(PREFIX)/bin/xar
	install -m 0755 $(OUT)/bin/xarexec $(PREFIX)/bin/xarexec
	ln -sf xarexec $(PREFIX)/bin/xarexec_fuse
	@# BINFMT=1 (as root): the kernel starts XAR files with this xarexec directly (see README).
	@if [ "$(BINFMT)" = 1 ]; then $(PREFIX)/bin/xar binfmt install --launcher $(abspath $(PREFIX))/bin/xarexec; fi

bench: deps build publish
	@command -v hyperfine >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(BENCH_DEBS) >/dev/null; } || echo "make bench: as root run: apt-get install $(BENCH_DEBS)" >&2
	XAR_BIN=$(CURDIR)/$(OUT)/bin bash bench/run.sh

clean:
	rm -rf $(OUT) src/*/bin src/*/obj tests/*/bin tests/*/obj
