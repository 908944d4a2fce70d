/*
 * uuid.h - Kafka's Uuid: 16 bytes, written as 22 characters of unpadded
 * base64url (Uuid.toString), random ones of version 4 that never start
 * with '-' (Kafka avoids ids that look like command-line options). Topic
 * ids, cluster ids and partition.metadata use it.
 */
#ifndef BK_UUID_H
#define BK_UUID_H

#include "kb.h"

/* 22 characters and a NUL. */
void bk_uuid_encode(const uint8_t id[16], char out[23]);
/* 0, or -1 if s is not 22 base64url characters. */
int bk_uuid_decode(const char *s, uint8_t id[16]);
/* A random version-4 id whose text does not start with '-'. */
void bk_uuid_random(uint8_t id[16]);

#endif
