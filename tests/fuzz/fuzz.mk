# libFuzzer targets for infertrace (see tests/fuzz/README.md).
#
# A make fragment: add   -include tests/fuzz/fuzz.mk   at the end of the
# Makefile, or use it alongside:
#
#   make -f Makefile -f tests/fuzz/fuzz.mk fuzz-smoke
#
#   fuzz-build     build build/fuzz/fuzz_{proto,llm,stream}
#   fuzz-smoke     run each for FUZZ_SECONDS (default 10), seed corpus
#                  included; fails on any crash, leak, UB or timeout
#   fuzz           the same for 600 s each (FUZZ_SECONDS=N overrides)
#   fuzz-smoke-proto, fuzz-run-llm, ...   one target (make -j3 runs them
#                  side by side)
#   fuzz-regress   run the saved reproducers tests/fuzz/crashes/fuzz_<t>-*
#                  once each; fails while any still crashes
#   fuzz-clean     remove build/fuzz
#
# The sources under test are compiled here from src/ with the sanitizers
# into build/fuzz/obj (build/obj is not used). Everything is prefixed FUZZ_
# / fuzz- so as not to clash with the Makefile.
#
# Needs clang with libFuzzer: Debian package libclang-rt-14-dev (clang 14).

# Keep whatever default goal the including Makefile has (`all`).
FUZZ_SAVED_GOAL := $(.DEFAULT_GOAL)

FUZZ_DIR      := tests/fuzz
FUZZ_BUILD    := build/fuzz
FUZZ_CC       ?= clang
FUZZ_SAN      ?= -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS   ?= -g -O1
FUZZ_CPPFLAGS := -std=gnu11 -D_GNU_SOURCE -DINFERTRACE_VERSION='"fuzz"' -Iinclude -Isrc \
                 -I$(FUZZ_DIR) -MMD -MP
FUZZ_WARN     := -Wall -Wextra -Wno-unused-parameter
FUZZ_LDLIBS   := -lbpf -lelf -lz -lcjson -lnghttp2 -lbrotlidec -lzstd -lhttp_parser

FUZZ_TARGETS  := proto llm stream
FUZZ_BINS     := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

# The src/ files each target needs.
FUZZ_SRCS_proto  := src/proto/proto.c src/proto/http1.c src/proto/http2.c \
                    src/proto/exchange.c src/proto/decode.c src/proto/sse.c \
                    src/proto/awsev.c src/proto/llm.c src/util/htab.c src/out/jsonl.c
FUZZ_SRCS_llm    := src/proto/llm.c
FUZZ_SRCS_stream := src/proto/sse.c src/proto/awsev.c src/proto/decode.c
FUZZ_OBJS_proto  := $(FUZZ_SRCS_proto:src/%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_OBJS_llm    := $(FUZZ_SRCS_llm:src/%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_OBJS_stream := $(FUZZ_SRCS_stream:src/%.c=$(FUZZ_BUILD)/obj/%.o)

# Running: seconds per target, memory, per-input time limit, input size.
FUZZ_SECONDS     ?= 10
FUZZ_RSS_MB      ?= 1024
FUZZ_TIMEOUT     ?= 25
FUZZ_MAX_LEN_proto  ?= 65536
FUZZ_MAX_LEN_llm    ?= 16384
FUZZ_MAX_LEN_stream ?= 65536
FUZZ_ARGS        ?=
FUZZ_ENV         ?= ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
                    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1

# The Makefile's package check, when there is one.
FUZZ_ORDER    := $(DEPS_STAMP)

ifeq ($(V),1)
FUZZ_Q :=
else
FUZZ_Q := @
endif

.PHONY: fuzz-build fuzz-smoke fuzz fuzz-regress fuzz-clean \
        $(FUZZ_TARGETS:%=fuzz-smoke-%) $(FUZZ_TARGETS:%=fuzz-run-%)

fuzz-build: $(FUZZ_BINS)

$(FUZZ_BUILD)/obj/%.o: src/%.c | $(FUZZ_ORDER)
	@printf '  %-8s %s\n' FUZZ-CC $@
	$(FUZZ_Q)mkdir -p $(@D)
	$(FUZZ_Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) $(FUZZ_WARN) $(FUZZ_CPPFLAGS) -c $< -o $@

$(FUZZ_BUILD)/obj/harness/%.o: $(FUZZ_DIR)/%.c | $(FUZZ_ORDER)
	@printf '  %-8s %s\n' FUZZ-CC $@
	$(FUZZ_Q)mkdir -p $(@D)
	$(FUZZ_Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) $(FUZZ_WARN) $(FUZZ_CPPFLAGS) -c $< -o $@

define FUZZ_LINK
	@printf '  %-8s %s\n' FUZZ-LD $@
	$(FUZZ_Q)$(FUZZ_CC) $(FUZZ_CFLAGS) $(FUZZ_SAN) $^ $(FUZZ_LDLIBS) -o $@
endef

$(FUZZ_BUILD)/fuzz_proto: $(FUZZ_BUILD)/obj/harness/fuzz_proto.o $(FUZZ_OBJS_proto)
	$(FUZZ_LINK)
$(FUZZ_BUILD)/fuzz_llm: $(FUZZ_BUILD)/obj/harness/fuzz_llm.o $(FUZZ_OBJS_llm)
	$(FUZZ_LINK)
$(FUZZ_BUILD)/fuzz_stream: $(FUZZ_BUILD)/obj/harness/fuzz_stream.o $(FUZZ_OBJS_stream)
	$(FUZZ_LINK)

# Run build/fuzz/fuzz_$* for FUZZ_SECONDS: new inputs go to
# build/fuzz/corpus/$*, the seeds in tests/fuzz/corpus/$* are read too
# (never written), a crashing input lands in build/fuzz/artifacts/. The
# log is build/fuzz/logs/$*.log; its end is shown, all of it on failure.
define FUZZ_RUN
	$(FUZZ_Q)mkdir -p $(FUZZ_BUILD)/corpus/$* $(FUZZ_BUILD)/artifacts $(FUZZ_BUILD)/logs
	@printf '  %-8s %s for %ss\n' FUZZ fuzz_$* $(FUZZ_SECONDS)
	$(FUZZ_Q)log=$(FUZZ_BUILD)/logs/$*.log; \
	$(FUZZ_ENV) $(FUZZ_BUILD)/fuzz_$* $(FUZZ_BUILD)/corpus/$* $(FUZZ_DIR)/corpus/$* \
		-dict=$(FUZZ_DIR)/$*.dict -max_total_time=$(FUZZ_SECONDS) \
		-rss_limit_mb=$(FUZZ_RSS_MB) -timeout=$(FUZZ_TIMEOUT) \
		-max_len=$(FUZZ_MAX_LEN_$*) -print_final_stats=1 \
		-artifact_prefix=$(FUZZ_BUILD)/artifacts/$*- $(FUZZ_ARGS) >$$log 2>&1; \
	rc=$$?; \
	if [ $$rc -ne 0 ]; then \
		cat $$log; echo "fuzz_$*: FAILED (exit $$rc), log $$log, input in $(FUZZ_BUILD)/artifacts/" >&2; \
		exit 1; \
	fi; \
	grep -E '^(#[0-9]+ +DONE|Done [0-9]+ runs|stat::(number_of_executed_units|peak_rss_mb|new_units_added))' $$log | sed 's/^/    fuzz_$*: /'
endef

fuzz-smoke: $(FUZZ_TARGETS:%=fuzz-smoke-%)
$(FUZZ_TARGETS:%=fuzz-smoke-%): fuzz-smoke-%: $(FUZZ_BUILD)/fuzz_%
	$(FUZZ_RUN)

fuzz: FUZZ_SECONDS = 600
fuzz: $(FUZZ_TARGETS:%=fuzz-run-%)
$(FUZZ_TARGETS:%=fuzz-run-%): fuzz-run-%: $(FUZZ_BUILD)/fuzz_%
	$(FUZZ_RUN)

# libFuzzer runs file arguments once each and stops at the first crash.
fuzz-regress: $(FUZZ_BINS)
	$(FUZZ_Q)rc=0; for t in $(FUZZ_TARGETS); do \
		set -- $(FUZZ_DIR)/crashes/fuzz_$$t-*; [ -e "$$1" ] || continue; \
		for f in "$$@"; do \
			if $(FUZZ_ENV) $(FUZZ_BUILD)/fuzz_$$t "$$f" >$(FUZZ_BUILD)/regress.log 2>&1; then \
				printf '  %-8s %s\n' ok "$$f"; \
			else \
				printf '  %-8s %s\n' CRASH "$$f"; \
				grep -m1 -E 'SUMMARY|runtime error|FUZZ_CHECK' $(FUZZ_BUILD)/regress.log | sed 's/^/           /'; \
				rc=1; \
			fi; \
		done; \
	done; exit $$rc

fuzz-clean:
	rm -rf $(FUZZ_BUILD)

-include $(wildcard $(FUZZ_BUILD)/obj/*/*.d)

.DEFAULT_GOAL := $(FUZZ_SAVED_GOAL)
