/*
 * crypt.c - secretstream encryption filters; see crypt.h for the format.
 *
 * Encoder: plaintext accumulates in a CRYPT_CHUNK buffer; a full buffer is sealed as a
 * MESSAGE chunk only when more data arrives, so finish always seals the last (possibly
 * full, possibly empty) buffer as the FINAL chunk. Decoder: ciphertext accumulates in a
 * CRYPT_CHUNK + ABYTES buffer; a full buffer is opened only when more data arrives (it
 * is then known not to be the last), and finish opens what is left and demands
 * TAG_FINAL. Keys and plaintext buffers are wiped when a filter is freed.
 */
#include "remote/crypt.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"

#define MAGIC "OFENC1\0\0"
#define MAGIC_BYTES 8
#define KEY_ID_BYTES 8
#define HEADER_BYTES crypto_secretstream_xchacha20poly1305_HEADERBYTES
#define PREAMBLE_BYTES (MAGIC_BYTES + KEY_ID_BYTES + HEADER_BYTES)
#define ABYTES crypto_secretstream_xchacha20poly1305_ABYTES
#define TAG_MESSAGE crypto_secretstream_xchacha20poly1305_TAG_MESSAGE
#define TAG_FINAL crypto_secretstream_xchacha20poly1305_TAG_FINAL

int crypt_key_parse(const char *b64, uint8_t key[CRYPT_KEY_BYTES], char *err, size_t errlen)
{
    size_t len = 0;
    const char *end = NULL;
    while (*b64 == ' ' || *b64 == '\t' || *b64 == '\n' || *b64 == '\r')
        b64++;
    size_t n = strlen(b64);
    while (n > 0 &&
           (b64[n - 1] == ' ' || b64[n - 1] == '\n' || b64[n - 1] == '\r' || b64[n - 1] == '\t'))
        n--;
    if (sodium_base642bin(key, CRYPT_KEY_BYTES, b64, n, NULL, &len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != b64 + n || len != CRYPT_KEY_BYTES) {
        sodium_memzero(key, CRYPT_KEY_BYTES);
        snprintf(err, errlen,
                 "ONEFILE_BACKUP_KEY must be 32 bytes in standard base64 (44 characters, "
                 "e.g. from `onefile backup --new-key`)");
        return -1;
    }
    return 0;
}

void crypt_key_new(char *out, size_t outlen)
{
    uint8_t key[CRYPT_KEY_BYTES];
    randombytes_buf(key, sizeof(key));
    sodium_bin2base64(out, outlen, key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
    sodium_memzero(key, sizeof(key));
}

static void key_id(const uint8_t key[CRYPT_KEY_BYTES], uint8_t id[KEY_ID_BYTES])
{
    static const char context[] = "onefile backup key id v1";
    uint8_t h[crypto_generichash_BYTES_MIN];
    crypto_generichash(h, sizeof(h), (const unsigned char *)context, sizeof(context) - 1, key,
                       CRYPT_KEY_BYTES);
    memcpy(id, h, KEY_ID_BYTES);
}

void crypt_key_id(const uint8_t key[CRYPT_KEY_BYTES], char out[CRYPT_KEY_ID_HEX])
{
    uint8_t id[KEY_ID_BYTES];
    key_id(key, id);
    sodium_bin2hex(out, CRYPT_KEY_ID_HEX, id, sizeof(id));
}

struct crypt {
    struct stream s;
    crypto_secretstream_xchacha20poly1305_state st;
    uint8_t key[CRYPT_KEY_BYTES];
    int decode;
    int started;     /* encoder: preamble written; decoder: preamble read and checked */
    int ended;       /* decoder: the FINAL chunk was opened */
    uint64_t offset; /* decoder: ciphertext bytes consumed, for messages */
    size_t have;     /* bytes in buf */
    uint8_t buf[CRYPT_CHUNK + ABYTES];
    uint8_t out[CRYPT_CHUNK + ABYTES];
};

/* Encoder: seals buf[0..have) with tag and writes it on. */
static int seal(struct crypt *c, unsigned char tag)
{
    unsigned long long clen;
    crypto_secretstream_xchacha20poly1305_push(&c->st, c->out, &clen, c->buf, c->have, NULL, 0,
                                               tag);
    c->have = 0;
    return stream_write(c->s.next, c->out, (size_t)clen);
}

static int enc_start(struct crypt *c)
{
    uint8_t pre[PREAMBLE_BYTES];
    memcpy(pre, MAGIC, MAGIC_BYTES);
    key_id(c->key, pre + MAGIC_BYTES);
    crypto_secretstream_xchacha20poly1305_init_push(&c->st, pre + MAGIC_BYTES + KEY_ID_BYTES,
                                                    c->key);
    c->started = 1;
    return stream_write(c->s.next, pre, sizeof(pre));
}

static int enc_write(struct crypt *c, const uint8_t *p, size_t n)
{
    if (!c->started && enc_start(c) < 0)
        return -1;
    while (n > 0) {
        if (c->have == CRYPT_CHUNK && seal(c, TAG_MESSAGE) < 0)
            return -1;
        size_t take = CRYPT_CHUNK - c->have < n ? CRYPT_CHUNK - c->have : n;
        memcpy(c->buf + c->have, p, take);
        c->have += take;
        p += take;
        n -= take;
    }
    return 0;
}

/* Decoder: opens buf[0..have) and writes the plaintext on. */
static int open_chunk(struct crypt *c, int last)
{
    unsigned long long mlen;
    unsigned char tag;
    if (last && c->have < ABYTES)
        return stream_fail(&c->s,
                           "encrypted backup: the stream is truncated (it ends at byte "
                           "%llu, inside a chunk or before the final one)",
                           (unsigned long long)(c->offset + c->have));
    if (crypto_secretstream_xchacha20poly1305_pull(&c->st, c->out, &mlen, &tag, c->buf, c->have,
                                                   NULL, 0) != 0) {
        if (last)
            return stream_fail(&c->s,
                               "encrypted backup: the stream is truncated or its end "
                               "was tampered with (authentication failed on its last "
                               "%zu bytes)",
                               c->have);
        return stream_fail(&c->s,
                           "encrypted backup: authentication failed at byte %llu: the data was "
                           "tampered with or corrupted",
                           (unsigned long long)c->offset);
    }
    c->offset += c->have;
    c->have = 0;
    if (tag == TAG_FINAL && !last)
        return stream_fail(&c->s, "encrypted backup: data after the final chunk");
    if (tag != TAG_FINAL && last)
        return stream_fail(&c->s,
                           "encrypted backup: the stream is truncated (no final chunk "
                           "after %llu bytes)",
                           (unsigned long long)c->offset);
    if (tag == TAG_FINAL)
        c->ended = 1;
    return stream_write(c->s.next, c->out, (size_t)mlen);
}

static int dec_start(struct crypt *c)
{
    if (memcmp(c->buf, MAGIC, MAGIC_BYTES) != 0)
        return stream_fail(&c->s, "not an onefile encrypted backup (bad magic)");
    uint8_t id[KEY_ID_BYTES];
    key_id(c->key, id);
    if (memcmp(id, c->buf + MAGIC_BYTES, KEY_ID_BYTES) != 0) {
        char theirs[CRYPT_KEY_ID_HEX], ours[CRYPT_KEY_ID_HEX];
        sodium_bin2hex(theirs, sizeof(theirs), c->buf + MAGIC_BYTES, KEY_ID_BYTES);
        sodium_bin2hex(ours, sizeof(ours), id, KEY_ID_BYTES);
        return stream_fail(&c->s,
                           "wrong key: the backup was encrypted with key id %s, "
                           "ONEFILE_BACKUP_KEY has key id %s",
                           theirs, ours);
    }
    if (crypto_secretstream_xchacha20poly1305_init_pull(&c->st, c->buf + MAGIC_BYTES + KEY_ID_BYTES,
                                                        c->key) != 0)
        return stream_fail(&c->s, "encrypted backup: bad stream header");
    c->started = 1;
    c->offset = PREAMBLE_BYTES;
    c->have = 0;
    return 0;
}

static int dec_write(struct crypt *c, const uint8_t *p, size_t n)
{
    while (n > 0) {
        if (c->ended)
            return stream_fail(&c->s, "encrypted backup: data after the final chunk");
        size_t want = c->started ? sizeof(c->buf) : PREAMBLE_BYTES;
        if (c->started && c->have == want) {
            if (open_chunk(c, 0) < 0)
                return -1;
            continue;
        }
        size_t take = want - c->have < n ? want - c->have : n;
        memcpy(c->buf + c->have, p, take);
        c->have += take;
        p += take;
        n -= take;
        if (!c->started && c->have == PREAMBLE_BYTES && dec_start(c) < 0)
            return -1;
    }
    return 0;
}

static int crypt_write(struct stream *s, const uint8_t *p, size_t n)
{
    struct crypt *c = (struct crypt *)s;
    return c->decode ? dec_write(c, p, n) : enc_write(c, p, n);
}

static int crypt_finish(struct stream *s)
{
    struct crypt *c = (struct crypt *)s;
    if (c->decode) {
        if (!c->started)
            return stream_fail(s,
                               "encrypted backup: the stream is truncated (%zu bytes, "
                               "shorter than its header)",
                               c->have);
        if (!c->ended && open_chunk(c, 1) < 0)
            return -1;
    } else {
        if (!c->started && enc_start(c) < 0)
            return -1;
        if (seal(c, TAG_FINAL) < 0)
            return -1;
    }
    return stream_finish(s->next);
}

static void crypt_free(struct stream *s)
{
    struct crypt *c = (struct crypt *)s;
    sodium_memzero(c, sizeof(*c));
    free(c);
}

static struct stream *crypt_new(int decode, const uint8_t key[CRYPT_KEY_BYTES], struct stream *next)
{
    struct crypt *c = xcalloc(1, sizeof(*c));
    stream_init(&c->s, crypt_write, crypt_finish, crypt_free, next, NULL, 0);
    memcpy(c->key, key, CRYPT_KEY_BYTES);
    c->decode = decode;
    return &c->s;
}

struct stream *crypt_encoder_new(const uint8_t key[CRYPT_KEY_BYTES], struct stream *next)
{
    return crypt_new(0, key, next);
}

struct stream *crypt_decoder_new(const uint8_t key[CRYPT_KEY_BYTES], struct stream *next)
{
    return crypt_new(1, key, next);
}
