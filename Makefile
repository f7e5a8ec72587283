# infertrace — see README.md. `make V=1` shows full commands.
#
#   make            build build/infertrace (installs missing Debian packages first)
#   make run        build and run the agent, JSON lines on stdout (root)
#   make check      build and run every test (root: the tests load real probes)
#   make install    install under $(PREFIX) (default /usr/local)

VERSION    := 0.1.0
PREFIX     ?= /usr/local
DESTDIR    ?=
BUILD      := build
CC         ?= cc
CLANG      ?= clang
BPFTOOL    ?= bpftool
ARCH       := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

ifeq ($(V),1)
Q =
msg =
else
Q = @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

CFLAGS     ?= -O2 -g
CFLAGS     += -Wall -Wextra -std=gnu11 -D_GNU_SOURCE -DINFERTRACE_VERSION='"$(VERSION)"' \
              -Iinclude -Isrc -I$(BUILD)/skel -MMD -MP
LDLIBS     := -lbpf -lelf -lz -lcjson -lnghttp2 -lbrotlidec -lzstd -lhttp_parser -lcapstone \
              -lmicrohttpd -lncursesw -lcurl -ldl -lpthread -lm
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Wall -Wno-unused-function \
              -I$(BUILD) -Iinclude -Ibpf

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS      := $(patsubst bpf/%.bpf.c,$(BUILD)/skel/%.skel.h,$(BPF_SRCS))

# Everything but main.c goes into a library the unit tests link against.
LIB_SRCS   := $(filter-out src/main.c,$(wildcard src/*.c src/*/*.c))
LIB_OBJS   := $(patsubst src/%.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
MAIN_OBJ   := $(BUILD)/obj/main.o
LIB        := $(BUILD)/libinfertrace.a

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRCS))
TOOL_SRCS  := $(wildcard tools/testprog/*.c)
TOOL_BINS  := $(patsubst tools/testprog/%.c,$(BUILD)/tools/%,$(TOOL_SRCS))

DEPS_STAMP := $(BUILD)/.deps-ok

.DELETE_ON_ERROR:
.SECONDARY: $(BPF_OBJS) $(SKELS)
.PHONY: all deps run check unit integration install clean

all: $(BUILD)/infertrace

# Install missing Debian packages once; the stamp is dropped when deps.sh changes.
$(DEPS_STAMP): tools/deps.sh
	$(Q)tools/deps.sh
	$(Q)mkdir -p $(@D) && touch $@

deps:
	$(Q)tools/deps.sh --all

$(BUILD)/vmlinux.h: /sys/kernel/btf/vmlinux | $(DEPS_STAMP)
	$(call msg,GEN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) btf dump file $< format c > $@.tmp
	$(Q)if cmp -s $@.tmp $@; then rm -f $@.tmp; touch $@; else mv $@.tmp $@; fi

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BUILD)/vmlinux.h bpf/common.bpf.h include/net_event.h include/gpu_event.h | $(DEPS_STAMP)
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

$(BUILD)/skel/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

# Sources include skeletons: generate them before compiling any object.
$(BUILD)/obj/%.o: src/%.c | $(SKELS) $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/infertrace: $(MAIN_OBJ) $(LIB)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c $(LIB) | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $< $(LIB) $(LDLIBS) -lcmocka -o $@

# The sink driver of the sink tests links the sinks themselves.
$(BUILD)/tools/sink_send: tools/testprog/sink_send.c $(LIB) | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $< $(LIB) $(LDLIBS) -o $@

$(BUILD)/tools/%: tools/testprog/%.c | $(DEPS_STAMP)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(CFLAGS) $< -lssl -lcrypto -lpthread -ldl -o $@

run: $(BUILD)/infertrace
	$(BUILD)/infertrace agent $(ARGS)

unit: $(UNIT_BINS)
integration: $(BUILD)/infertrace $(TOOL_BINS)

# The test runner ends with one 'N passed, N failed' line.
check: $(BUILD)/infertrace $(UNIT_BINS) $(TOOL_BINS)
	$(Q)tests/run.sh

install: $(BUILD)/infertrace
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/infertrace
	install -m 0755 $(BUILD)/infertrace $(DESTDIR)$(PREFIX)/bin/infertrace
	if [ -d prices ] && ls prices/*.json >/dev/null 2>&1; then \
		install -m 0644 prices/*.json $(DESTDIR)$(PREFIX)/share/infertrace/; fi
	if [ -f docs/infertrace.8 ]; then install -d $(DESTDIR)$(PREFIX)/share/man/man8 && \
		install -m 0644 docs/infertrace.8 $(DESTDIR)$(PREFIX)/share/man/man8/; fi

clean:
	rm -rf $(BUILD)

-include $(wildcard $(BUILD)/obj/*.d $(BUILD)/obj/*/*.d $(BUILD)/tests/*.d)

# libFuzzer targets: make fuzz-smoke (seconds), make fuzz (10 minutes each)
-include tests/fuzz/fuzz.mk
