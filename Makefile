# SPDX-License-Identifier: GPL-2.0-only
# migtrace build. Everything generated goes under $(BUILD); `make V=1` shows full commands.
#   bpf/%.bpf.c -> build/bpf/%.bpf.o -> build/bpf/%.skel.h ; user/*.c -> build/user/*.o -> build/migtrace

BUILD     ?= build
CC        ?= cc
CLANG     ?= clang
BPFTOOL   ?= bpftool
ARCH      ?= $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
VMLINUX_H ?= vmlinux/$(ARCH)/vmlinux.h
prefix    ?= /usr/local
DESTDIR   ?=
VERSION   := 0.1.0
PKGS      := libbpf libelf json-c libmicrohttpd

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-9s %s\n' "$(1)" "$(2)";
endif

CFLAGS    ?= -O2 -g
WARN      := -Wall -Wextra -Wno-unused-parameter -Wmissing-prototypes -Wshadow -Wformat=2
CPPFLAGS  += -Iinclude -Iuser -I$(BUILD)/bpf $(shell pkg-config --cflags $(PKGS)) \
	     -DMIGTRACE_VERSION='"$(VERSION)"' -D_GNU_SOURCE
LDLIBS    += $(shell pkg-config --libs $(PKGS)) -lz -lm
ifeq ($(SAN),1)
CFLAGS    += -fsanitize=address,undefined -fno-omit-frame-pointer
LDFLAGS   += -fsanitize=address,undefined
endif
ALL_CFLAGS = $(CPPFLAGS) $(CFLAGS) $(WARN) $(EXTRA_CFLAGS) -MMD -MP

BPF_CFLAGS := -g -O2 -Wall -target bpf -mcpu=v3 -D__TARGET_ARCH_$(ARCH) -Iinclude -Ibpf \
	      -I$(dir $(VMLINUX_H)) -MMD -MP

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.skel.h,$(BPF_SRCS))
USER_SRCS := $(wildcard user/*.c)
USER_OBJS := $(patsubst user/%.c,$(BUILD)/user/%.o,$(USER_SRCS))
LIB_OBJS  := $(filter-out $(BUILD)/user/main.o,$(USER_OBJS))
TEST_SRCS := $(wildcard tests/test_*.c)
TEST_BINS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(TEST_SRCS))
DEPS      := $(USER_OBJS:.o=.d) $(BPF_OBJS:.o=.d) $(TEST_BINS:=.d)

.PHONY: all deps test unit-test e2e-test demo bench clean install format check-format vmlinux san-test
.DELETE_ON_ERROR:
.SECONDARY:

all: $(BUILD)/migtrace $(BUILD)/guest/guest.bin

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(VMLINUX_H)
	@mkdir -p $(@D)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/bpf/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

# Every user object may include any skeleton; keep them generated first.
$(USER_OBJS): | $(SKELS)

$(BUILD)/user/%.o: user/%.c
	@mkdir -p $(@D)
	$(call msg,CC,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/migtrace: $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/%.c $(LIB_OBJS)
	@mkdir -p $(@D)
	$(call msg,CC-TEST,$@)
	$(Q)$(CC) $(ALL_CFLAGS) -Itests $< $(LIB_OBJS) $(LDFLAGS) $(LDLIBS) -lcmocka -o $@

include tools/guest/Makefile.inc
include tools/bench/Makefile.inc

# Install build and test dependencies from Debian packages (idempotent; needs root).
deps:
	$(Q)tools/deps.sh

# The README's test command: unit tests, BPF tests, end-to-end with a real migration.
test: all $(TEST_BINS)
	$(Q)tests/run.sh $(TEST_BINS)

unit-test: $(TEST_BINS)
	$(Q)tests/run.sh --unit-only $(TEST_BINS)

san-test:
	$(Q)$(MAKE) BUILD=build/san SAN=1 unit-test

demo: all
	$(Q)tools/demo.sh

bench: all bench-tools
	$(Q)BUILD=$(BUILD) tools/bench.sh

vmlinux:
	$(call msg,GEN,$(VMLINUX_H))
	$(Q)mkdir -p $(dir $(VMLINUX_H))
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $(VMLINUX_H)

install: $(BUILD)/migtrace
	install -D -m 0755 $(BUILD)/migtrace $(DESTDIR)$(prefix)/sbin/migtrace
	install -D -m 0644 man/migtrace.8 $(DESTDIR)$(prefix)/share/man/man8/migtrace.8

FORMAT_SRCS := $(wildcard user/*.[ch] include/*.h bpf/*.[ch] tests/*.[ch] tools/bench/*.c)
format:
	clang-format -i $(FORMAT_SRCS)
check-format:
	clang-format --dry-run --Werror $(FORMAT_SRCS)

clean:
	rm -rf $(BUILD)

-include $(DEPS)
