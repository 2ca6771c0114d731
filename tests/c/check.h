/* Tiny test helpers for the C tests of libemberkv (tests/c/run.sh builds
 * and runs every test_*.c under AddressSanitizer+UBSan and valgrind). */
#ifndef EMBERKV_TEST_CHECK_H
#define EMBERKV_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emberkv.h"

static int check_passed, check_failed;

#define CHECK(cond)                                                              \
    do {                                                                         \
        if (cond) {                                                              \
            check_passed++;                                                      \
        } else {                                                                 \
            check_failed++;                                                      \
            fprintf(stderr, "%s:%d: CHECK failed: %s (last error: %s)\n",        \
                    __FILE__, __LINE__, #cond, ekv_last_error());                \
        }                                                                        \
    } while (0)

/* Prints the tally; the exit status of main. */
static inline int check_report(const char *name) {
    printf("%s: %d passed, %d failed\n", name, check_passed, check_failed);
    return check_failed == 0 ? 0 : 1;
}

/* Runs a command given as NUL-terminated strings (a NULL ends the list);
 * NULL if the call itself failed. */
static inline ekv_reply *cmd_strs(ekv_client *c, const char *const *args) {
    size_t argc = 0;
    while (args[argc]) argc++;
    ekv_reply *r = NULL;
    ekv_status st = ekv_command(c, argc, (const uint8_t *const *)args, NULL, &r);
    if (st != EKV_OK) {
        fprintf(stderr, "ekv_command(%s ...) failed: %s: %s\n", args[0], ekv_status_str(st),
                ekv_last_error());
        return NULL;
    }
    return r;
}

#define CMD(c, ...) cmd_strs((c), (const char *const[]){__VA_ARGS__, NULL})

/* True if `r` is a string-like reply holding exactly `len` bytes `s`. */
static inline int reply_is(const ekv_reply *r, int type, const void *s, size_t len) {
    size_t n = 0;
    const uint8_t *p = ekv_reply_str(r, &n);
    return r && ekv_reply_type(r) == type && p && n == len && memcmp(p, s, len) == 0 && p[n] == 0;
}

/* Checks and frees. */
static inline int take_status(ekv_reply *r, const char *s) {
    int ok = reply_is(r, EKV_REPLY_STATUS, s, strlen(s));
    ekv_reply_free(r);
    return ok;
}

static inline int take_str(ekv_reply *r, const char *s) {
    int ok = reply_is(r, EKV_REPLY_STRING, s, strlen(s));
    ekv_reply_free(r);
    return ok;
}

static inline int take_int(ekv_reply *r, int64_t v) {
    int ok = r && ekv_reply_type(r) == EKV_REPLY_INTEGER && ekv_reply_integer(r) == v;
    ekv_reply_free(r);
    return ok;
}

static inline int take_nil(ekv_reply *r) {
    int ok = r && ekv_reply_type(r) == EKV_REPLY_NIL;
    ekv_reply_free(r);
    return ok;
}

/* An error reply whose text starts with `prefix`. */
static inline int take_error(ekv_reply *r, const char *prefix) {
    size_t n = 0;
    const uint8_t *p = ekv_reply_str(r, &n);
    int ok = r && ekv_reply_type(r) == EKV_REPLY_ERROR && p && n >= strlen(prefix) &&
             memcmp(p, prefix, strlen(prefix)) == 0;
    if (!ok && p) fprintf(stderr, "  error reply was: %.*s\n", (int)n, (const char *)p);
    ekv_reply_free(r);
    return ok;
}

/* True if the command is unknown to this engine (for tests of command
 * families that land later): frees the reply then. */
static inline int is_unknown_command(ekv_reply *r) {
    size_t n = 0;
    const uint8_t *p = ekv_reply_str(r, &n);
    return r && ekv_reply_type(r) == EKV_REPLY_ERROR && n >= 19 &&
           memcmp(p, "ERR unknown command", 19) == 0;
}

#endif
