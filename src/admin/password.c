/*
 * password.c - argon2id hashing with a cap on concurrent hashes; see password.h.
 */
#include <pthread.h>
#include <string.h>

#include "admin/password.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int running;

static void enter(void)
{
    pthread_mutex_lock(&mu);
    while (running >= PASSWORD_MAX_CONCURRENT)
        pthread_cond_wait(&cv, &mu);
    running++;
    pthread_mutex_unlock(&mu);
}

static void leave(void)
{
    pthread_mutex_lock(&mu);
    running--;
    pthread_cond_signal(&cv);
    pthread_mutex_unlock(&mu);
}

int password_hash(const char *password, char out[PASSWORD_HASH_LEN])
{
    enter();
    int rc = crypto_pwhash_str(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                               crypto_pwhash_MEMLIMIT_INTERACTIVE);
    leave();
    return rc == 0 ? 0 : -1;
}

static char dummy[PASSWORD_HASH_LEN];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void)
{
    static const char pw[] = "a password nobody has";
    if (crypto_pwhash_str(dummy, pw, sizeof(pw) - 1, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0)
        dummy[0] = '\0';
}

int password_verify(const char *hash, const char *password, int *rehash)
{
    *rehash = 0;
    if (!hash) {
        /* the work of a real check, so an unknown account answers as slowly as a known one */
        pthread_once(&dummy_once, make_dummy);
        enter();
        int ignored = crypto_pwhash_str_verify(dummy, password, strlen(password));
        leave();
        (void)ignored;
        return 1;
    }
    enter();
    int rc = crypto_pwhash_str_verify(hash, password, strlen(password));
    leave();
    if (rc != 0)
        return 1;
    *rehash = crypto_pwhash_str_needs_rehash(hash, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                             crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0;
    return 0;
}

const char *password_problem(const char *password)
{
    size_t n = strlen(password);
    if (n < PASSWORD_MIN_LEN)
        return "The password must have at least 10 characters.";
    if (n > PASSWORD_MAX_LEN)
        return "The password is too long.";
    return NULL;
}
