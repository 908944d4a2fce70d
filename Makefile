# Brook - a Kafka-wire-compatible broker in C.
#
#   make run        install what is missing, build, start a single-node broker
#   make test       install what is missing, build, run every test
#   make all        build bin/ (brookd) and the test binaries
#   make unit       C unit tests
#   make itest      integration tests with real clients (needs make all)
#   make san-test   unit tests + integration smoke under ASan+UBSan
#   make gen        regenerate src/proto/bkgen_msgs.[ch] from the Kafka JSON
#   make gen-check  regenerate into a temp dir and fail on any difference
#   make fuzz       run the libFuzzer targets for FUZZ_SECONDS each
#   make cluster    3 ZooKeeper nodes + 3 brokers on loopback (scripts/cluster.sh;
#                   make cluster-stop / cluster-status)
#
# KAFKA_PROTOCOL points at Kafka's message definitions (never vendored).

KAFKA_PROTOCOL ?= ../shared/kafka-protocol
FUZZ_SECONDS   ?= 60
PYTHON         := /usr/bin/python3

include mk/flags.mk

LIB_SRCS  := $(filter-out %_test.c src/server/main.c,$(wildcard src/*/*.c))
TEST_SRCS := $(wildcard src/*/*_test.c) tests/unit.c tests/populate.c
LIB_OBJS  := $(LIB_SRCS:%.c=$(BUILD)/%.o)
TEST_OBJS := $(TEST_SRCS:%.c=$(BUILD)/%.o)
# The codec alone: what the fuzz targets and bkcodec link.
CODEC_OBJS := $(patsubst %.c,$(BUILD)/%.o,src/core/buf.c src/core/err.c src/proto/api.c \
                src/proto/codec.c src/proto/bkgen_msgs.c)
# Record batches, compression and produce validation.
RECORDS_OBJS := $(patsubst %.c,$(BUILD)/%.o,src/core/buf.c src/core/err.c src/core/crc32c.c \
                  src/proto/records.c src/storage/compress.c src/storage/validate.c)

BIN := $(BUILD)/bin

# brook_build_info{commit=...} (server/mon.c); "unknown" outside a git checkout.
GIT_COMMIT := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
$(BUILD)/src/server/mon.o: CFLAGS += -DBK_GIT_COMMIT='"$(GIT_COMMIT)"'

.PHONY: cluster cluster-stop cluster-status bench-metrics bench-startup bench-storage bench-e2e bench-cleaner all run test unit itest san-test gen gen-check fuzz fuzz-build fuzz-corpus deps clean check-layers

all: $(BIN)/brookd $(BIN)/brook $(BIN)/unit $(BIN)/bkcodec $(BIN)/mklog $(BIN)/bkrecords $(BIN)/crashwriter
ifeq ($(SANITIZER),)
	@mkdir -p bin && ln -sf ../$(BIN)/brookd bin/brookd && ln -sf ../$(BIN)/brook bin/brook
endif

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libbrook.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BIN)/brookd: $(BUILD)/src/server/main.o $(BUILD)/libbrook.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

TOOL_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tools/*.c))

# The operator's tool: librdkafka is its client (issue 7).
$(BIN)/brook: $(TOOL_OBJS) $(BUILD)/libbrook.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lrdkafka

# Benchmarks (not tests): make bench-startup
$(BIN)/bench-startup: $(BUILD)/bench/startup.o $(BUILD)/libbrook.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench-startup: $(BIN)/bench-startup
	$(BIN)/bench-startup

$(BIN)/bench-storage: $(BUILD)/bench/storage.o $(BUILD)/libbrook.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench-storage: $(BIN)/bench-storage
	bench/run-storage.sh

# Cost of the request-path metrics accounting (core/metrics.h), ns/request.
$(BIN)/bench-metrics: $(BUILD)/bench/metrics_cost.o $(BUILD)/libbrook.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench-metrics: $(BIN)/bench-metrics
	$(BIN)/bench-metrics

# The log cleaner: cleaning MB/s per codec, append and produce latency
# while it runs (bench/README.md).
$(BIN)/bench-cleaner: $(BUILD)/bench/cleaner.o $(BUILD)/libbrook.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

bench-cleaner: all $(BIN)/bench-cleaner
	bench/run-cleaner.sh

# Produce/consume/latency through librdkafka against brookd and against
# librdkafka's mock cluster, one table (bench/e2e-README.md).
bench-e2e: all
	bench/run-e2e.sh $(E2E_ARGS)

# Test helpers linked against the library.
$(BIN)/crashwriter: $(BUILD)/tests/crash/crashwriter.o $(BUILD)/libbrook.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/mklog: $(BUILD)/tests/mklog.o $(BUILD)/libbrook.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/unit: $(TEST_OBJS) $(BUILD)/libbrook.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/bkcodec: $(BUILD)/tests/bkcodec.o $(CODEC_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

FUZZ_TARGETS := fuzz_request fuzz_response fuzz_records fuzz_zkjson fuzz_sasl

$(BIN)/bkrecords: $(BUILD)/tests/bkrecords.o $(RECORDS_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/mkrecords: $(BUILD)/fuzz/mkrecords.o $(RECORDS_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/fuzz_records: $(filter-out $(CODEC_OBJS),$(RECORDS_OBJS))
$(BIN)/fuzz_zkjson: $(BUILD)/src/cluster/zkjson.o $(BUILD)/src/core/uuid.o
$(BIN)/fuzz_sasl: $(BUILD)/src/broker/sasl.o

$(BIN)/mkcorpus: $(BUILD)/fuzz/mkcorpus.o $(BUILD)/tests/populate.o $(CODEC_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# libFuzzer binaries: only built in the fuzz build (make fuzz-build).
$(BIN)/fuzz_%: $(BUILD)/fuzz/fuzz_%.o $(CODEC_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(LDLIBS)

fuzz-build:
	$(MAKE) SANITIZER=address,undefined BUILD=build/fuzz EXTRA_CFLAGS=-fsanitize=fuzzer-no-link \
	  $(FUZZ_TARGETS:%=build/fuzz/bin/%)

fuzz-corpus: $(BIN)/mkcorpus
	rm -rf fuzz/corpus/request fuzz/corpus/response fuzz/corpus/records
	mkdir -p fuzz/corpus/request fuzz/corpus/response
	$(BIN)/mkcorpus fuzz/corpus/request fuzz/corpus/response
	$(MAKE) $(BIN)/mkrecords && mkdir -p fuzz/corpus/records && $(BIN)/mkrecords fuzz/corpus/records

deps:
	@scripts/deps.sh

cluster: all
	@scripts/cluster.sh start

cluster-stop:
	@scripts/cluster.sh stop

cluster-status:
	@scripts/cluster.sh status

run: deps all
	@mkdir -p data
	exec $(BIN)/brookd config/server.properties --override log.dirs=./data

unit: $(BIN)/unit
	$(BIN)/unit

itest: all
	@tests/run-itest.sh $(ITEST_ARGS)

# Unit tests and the smoke subset of the integration tests under ASan+UBSan;
# both run even if the first fails.
san-test:
	$(MAKE) SANITIZER=address,undefined all
	ASAN_OPTIONS=detect_leaks=1 build/san/bin/unit; u=$$?; \
	  BROOKD=build/san/bin/brookd BKCODEC=build/san/bin/bkcodec tests/run-itest.sh -m smoke; i=$$?; \
	  exit $$((u|i))

test: deps
	@bash tests/run-all.sh

gen:
	$(PYTHON) proto/bkgen.py --defs $(KAFKA_PROTOCOL)/messages --out src/proto

gen-check:
	@tmp=$$(mktemp -d) && $(PYTHON) proto/bkgen.py --defs $(KAFKA_PROTOCOL)/messages --out $$tmp && \
	  diff -u src/proto/bkgen_msgs.h $$tmp/bkgen_msgs.h && diff -u src/proto/bkgen_msgs.c $$tmp/bkgen_msgs.c && \
	  rm -rf $$tmp && echo "gen-check: generated code is up to date"

fuzz: fuzz-build
	@scripts/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

check-layers:
	@scripts/check-layers.sh

clean:
	rm -rf build bin

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
