/*
 * crypt.h - client-side encryption of backups: libsodium's secretstream
 * (XChaCha20-Poly1305) as stream filters (remote/stream.h).
 *
 * The key is ONEFILE_BACKUP_KEY: 32 random bytes written in standard base64 (44
 * characters with the trailing '='), e.g. `onefile backup --new-key` or
 * `head -c 32 /dev/urandom | base64`. The key never leaves the machine; lose it and the
 * encrypted backups are lost with it.
 *
 * Format of an encrypted object:
 *
 *   "OFENC1\0\0"          8 bytes, magic and format version
 *   key id                8 bytes, BLAKE2b of the key (names the key; reveals nothing)
 *   secretstream header   24 bytes (random nonce)
 *   chunks                CRYPT_CHUNK bytes of plaintext each, + 17 bytes of tag and MAC;
 *                         the last one (0..CRYPT_CHUNK bytes) carries TAG_FINAL
 *
 * Every chunk is authenticated and ordered, and the stream must end with TAG_FINAL: the
 * decoder refuses a wrong key (by key id, before any decryption), any changed byte
 * ("tampered with or corrupted"), a truncated stream and data after the final chunk.
 *
 * Threads: a filter belongs to one thread.
 */
#ifndef ONEFILE_REMOTE_CRYPT_H
#define ONEFILE_REMOTE_CRYPT_H

#include <stddef.h>
#include <stdint.h>

#include "remote/stream.h"

#define CRYPT_KEY_BYTES 32
#define CRYPT_CHUNK (64 * 1024)
#define CRYPT_KEY_ID_HEX 17 /* 16 hex digits + NUL */

/* Decodes a base64 key (surrounding whitespace ignored). 0, or -1 with err filled
   (never containing the key). */
int crypt_key_parse(const char *b64, uint8_t key[CRYPT_KEY_BYTES], char *err, size_t errlen);
/* A new random key in base64 (out needs 45 bytes). */
void crypt_key_new(char *out, size_t outlen);
/* The key's id, 16 hex digits. */
void crypt_key_id(const uint8_t key[CRYPT_KEY_BYTES], char out[CRYPT_KEY_ID_HEX]);

/* A filter that encrypts into next (owned). The key is copied. */
struct stream *crypt_encoder_new(const uint8_t key[CRYPT_KEY_BYTES], struct stream *next);
/* A filter that decrypts into next (owned). The key is copied. */
struct stream *crypt_decoder_new(const uint8_t key[CRYPT_KEY_BYTES], struct stream *next);
#endif
