/*
 * jsonfile.h - the JSON files Kafka's tools read: a list of partitions,
 * {"version":1,"partitions":[{"topic":"t","partition":0[,"offset":5]},...]}
 * (kafka-delete-records.sh --offset-json-file, kafka-leader-election.sh
 * --path-to-json-file). Parsed with the broker's JSON reader (zkjson.h);
 * errors end the tool with Kafka's messages.
 */
#ifndef BK_TOOLS_JSONFILE_H
#define BK_TOOLS_JSONFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct bk_tool_tp {
    char *topic; /* owned */
    int64_t partition;
    int64_t offset; /* with_offset only */
} bk_tool_tp;

/* The whole file, NUL-terminated (malloc'd); exits if it cannot be read. */
char *bk_tool_read_file(const char *path, size_t *len);

/* The partitions of path: *out (malloc'd, bk_tool_tp_free), count returned.
 * Exits with "The input string is not a valid JSON", "Missing partitions
 * field" or a per-entry message; with_offset: each entry needs "offset".
 * *version: the "version" field (1 if absent). Duplicates are the
 * caller's to judge (the tools word that differently). */
int bk_tool_json_partitions(const char *path, bool with_offset, int64_t *version,
                            bk_tool_tp **out);
void bk_tool_tp_free(bk_tool_tp *v, int n);

#endif
