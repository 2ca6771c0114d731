# emberkv: `make build` builds everything and runs the demo; `make test` runs every test.
#   make lib                          build target/release/libemberkv.{so,a} (+ regenerate include/emberkv.h)
#   make install PREFIX=/usr/local    install lib/, include/, lib/pkgconfig/emberkv.pc (DESTDIR honoured)
#   make test-c                       C tests under ASan+UBSan and valgrind (tests/c/run.sh)
.PHONY: build demo test bench lib install test-c

build:
	cargo build --release --workspace
	$(MAKE) demo

demo:
	cargo run --release -p emberkv --example chat

test:
	scripts/test.sh

bench:
	cargo bench -p emberkv

# ---- the C library ----

PREFIX ?= /usr/local
LIBDIR ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DESTDIR ?=
CARGO ?= cargo
TARGET_DIR ?= $(or $(CARGO_TARGET_DIR),target)
REL := $(TARGET_DIR)/release

VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
MAJOR := $(word 1,$(subst ., ,$(VERSION)))
MINOR := $(word 2,$(subst ., ,$(VERSION)))
# Must match ffi/build.rs: before 1.0 every minor version may break the ABI.
SONAME := $(if $(filter 0,$(MAJOR)),libemberkv.so.0.$(MINOR),libemberkv.so.$(MAJOR))

lib:
	$(CARGO) build --release -p emberkv-ffi
	ln -sf libemberkv.so $(REL)/$(SONAME)  # what programs linked in the build tree load

install: lib
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(INCLUDEDIR)
	install -m 644 include/emberkv.h $(DESTDIR)$(INCLUDEDIR)/emberkv.h
	install -m 755 $(REL)/libemberkv.so $(DESTDIR)$(LIBDIR)/libemberkv.so.$(VERSION)
	ln -sf libemberkv.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sf $(SONAME) $(DESTDIR)$(LIBDIR)/libemberkv.so
	install -m 644 $(REL)/libemberkv.a $(DESTDIR)$(LIBDIR)/libemberkv.a
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' \
	    -e 's|@VERSION@|$(VERSION)|' ffi/emberkv.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/emberkv.pc

test-c:
	tests/c/run.sh
