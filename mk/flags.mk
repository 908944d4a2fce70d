# Compiler flags shared by every build. SANITIZER=address,undefined builds
# into build/san with -fno-sanitize-recover so any report fails the run.
CC       ?= cc
OPT      ?= -O2
WARN     := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wvla -Wformat=2 -Wno-unused-parameter -Wno-missing-field-initializers
CFLAGS   := -std=c11 -D_GNU_SOURCE $(OPT) -g -fno-omit-frame-pointer $(WARN) -MMD -MP $(EXTRA_CFLAGS)
LDFLAGS  := $(EXTRA_LDFLAGS)
LDLIBS   := -lpthread -lm -lz -lsnappy -llz4 -lzstd -lzookeeper_mt -lssl -lcrypto -lsasl2

ifneq ($(SANITIZER),)
CC       := clang
CFLAGS   += -fsanitize=$(SANITIZER) -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZER)
BUILD    ?= build/san
endif
BUILD    ?= build
