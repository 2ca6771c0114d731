/* The C API end to end: open/close, options, every reply type, binary data,
 * error replies, RESP2 vs RESP3 shapes, misuse with NULLs, a closed db. */
#include "check.h"

#include <math.h>
#include <stdint.h>

static void test_version(void) {
    CHECK(strcmp(ekv_version(), EKV_VERSION_STRING) == 0);
    CHECK(EKV_VERSION_NUMBER == EKV_MAKE_VERSION(EKV_VERSION_MAJOR, EKV_VERSION_MINOR, EKV_VERSION_PATCH));
    CHECK(EKV_VERSION_NUMBER >= EKV_MAKE_VERSION(0, 1, 0));
    CHECK(strcmp(ekv_status_str(EKV_OK), "OK") == 0);
    CHECK(strcmp(ekv_status_str(12345), "unknown status") == 0);
    for (ekv_status s = EKV_ERR_MISUSE; s <= EKV_ERR_OVERFLOW; s++)
        CHECK(strcmp(ekv_status_str(s), "unknown status") != 0);
}

static void test_open_close_memory(void) {
    ekv_db *db = NULL;
    CHECK(ekv_open(NULL, NULL, &db) == EKV_OK);
    CHECK(db != NULL);
    ekv_client *c = ekv_client_new(db);
    CHECK(c != NULL);
    CHECK(take_status(CMD(c, "SET", "greeting", "hello"), "OK"));
    CHECK(take_str(CMD(c, "GET", "greeting"), "hello"));
    CHECK(take_status(CMD(c, "PING"), "PONG"));
    ekv_client_free(c);
    CHECK(ekv_close(db) == EKV_OK);

    /* A second database is a separate keyspace. */
    CHECK(ekv_open(NULL, NULL, &db) == EKV_OK);
    c = ekv_client_new(db);
    CHECK(take_nil(CMD(c, "GET", "greeting")));
    ekv_client_free(c);
    CHECK(ekv_close(db) == EKV_OK);
}

static void test_options(void) {
    ekv_options *o = ekv_options_new();
    CHECK(o != NULL);
    CHECK(ekv_options_set(o, "databases", "2") == EKV_OK);
    CHECK(ekv_options_set(o, "HZ", "50") == EKV_OK); /* names are case-insensitive */
    CHECK(ekv_options_set(o, "no-such-directive", "1") == EKV_ERR_MISUSE);
    CHECK(strstr(ekv_last_error(), "no-such-directive") != NULL);
    CHECK(ekv_options_set(o, "databases", "zero") == EKV_ERR_MISUSE);
    CHECK(ekv_options_set(o, "hz", "-1") == EKV_ERR_MISUSE);
    CHECK(strstr(ekv_last_error(), "hz") != NULL);
    CHECK(ekv_options_set(o, "list-max-ziplist-size", "128") == EKV_OK); /* an alias */
    CHECK(ekv_options_set(NULL, "hz", "10") == EKV_ERR_MISUSE);
    CHECK(ekv_options_set(o, NULL, "10") == EKV_ERR_MISUSE);
    CHECK(ekv_options_set(o, "hz", NULL) == EKV_ERR_MISUSE);
    CHECK(ekv_options_set(o, "hz", "\xff\xfe") == EKV_ERR_MISUSE); /* not UTF-8 */

    ekv_db *db = NULL;
    CHECK(ekv_open(NULL, o, &db) == EKV_OK);
    ekv_options_free(o); /* ekv_open copied what it needed */
    ekv_client *c = ekv_client_new(db);
    CHECK(take_status(CMD(c, "SELECT", "1"), "OK"));
    CHECK(take_error(CMD(c, "SELECT", "2"), "ERR DB index is out of range"));
    ekv_reply *r = CMD(c, "CONFIG", "GET", "hz");
    CHECK(ekv_reply_type(r) == EKV_REPLY_ARRAY); /* RESP2: a map is a flat array */
    CHECK(ekv_reply_len(r) == 2);
    CHECK(reply_is(ekv_reply_element(r, 0), EKV_REPLY_STRING, "hz", 2));
    CHECK(reply_is(ekv_reply_element(r, 1), EKV_REPLY_STRING, "50", 2));
    ekv_reply_free(r);
    ekv_client_free(c);
    CHECK(ekv_close(db) == EKV_OK);
}

static void test_reply_types(void) {
    ekv_db *db = NULL;
    CHECK(ekv_open(NULL, NULL, &db) == EKV_OK);
    ekv_client *c = ekv_client_new(db);

    /* STATUS, STRING, INTEGER, NIL, ARRAY (RESP2) */
    CHECK(take_status(CMD(c, "SET", "a", "1"), "OK"));
    CHECK(take_str(CMD(c, "GET", "a"), "1"));
    CHECK(take_int(CMD(c, "INCRBY", "a", "-11"), -10));
    CHECK(take_int(CMD(c, "INCRBY", "big", "9223372036854775807"), INT64_MAX));
    CHECK(take_nil(CMD(c, "GET", "missing")));
    ekv_reply *r = CMD(c, "MGET", "a", "missing", "a");
    CHECK(ekv_reply_type(r) == EKV_REPLY_ARRAY);
    CHECK(ekv_reply_len(r) == 3);
    CHECK(reply_is(ekv_reply_element(r, 0), EKV_REPLY_STRING, "-10", 3));
    CHECK(ekv_reply_type(ekv_reply_element(r, 1)) == EKV_REPLY_NIL);
    CHECK(reply_is(ekv_reply_element(r, 2), EKV_REPLY_STRING, "-10", 3));
    CHECK(ekv_reply_element(r, 3) == NULL);
    CHECK(ekv_reply_integer(r) == 0 && ekv_reply_double(r) == 0.0);
    CHECK(ekv_reply_str(r, NULL) == NULL);
    CHECK(ekv_reply_verb_format(r) == NULL);
    ekv_reply_free(r);
    r = CMD(c, "KEYS", "nomatch*");
    CHECK(ekv_reply_type(r) == EKV_REPLY_ARRAY && ekv_reply_len(r) == 0);
    CHECK(ekv_reply_element(r, 0) == NULL);
    ekv_reply_free(r);

    /* INCRBYFLOAT is a bulk string in both protocols (as in Redis). */
    CHECK(take_str(CMD(c, "INCRBYFLOAT", "f", "0.5"), "0.5"));

    /* HELLO 3: a MAP, and the client speaks RESP3 from now on. */
    r = CMD(c, "HELLO", "3");
    CHECK(ekv_reply_type(r) == EKV_REPLY_MAP);
    CHECK(ekv_reply_len(r) == 14); /* 7 pairs: key, value, key, value, ... */
    int saw_proto = 0;
    for (size_t i = 0; i + 1 < ekv_reply_len(r); i += 2) {
        const ekv_reply *k = ekv_reply_element(r, i), *v = ekv_reply_element(r, i + 1);
        CHECK(ekv_reply_type(k) == EKV_REPLY_STRING);
        if (reply_is(k, EKV_REPLY_STRING, "proto", 5)) {
            saw_proto = 1;
            CHECK(ekv_reply_type(v) == EKV_REPLY_INTEGER && ekv_reply_integer(v) == 3);
        }
        if (reply_is(k, EKV_REPLY_STRING, "modules", 7))
            CHECK(ekv_reply_type(v) == EKV_REPLY_ARRAY && ekv_reply_len(v) == 0);
    }
    CHECK(saw_proto);
    ekv_reply_free(r);

    r = CMD(c, "CONFIG", "GET", "databases");
    CHECK(ekv_reply_type(r) == EKV_REPLY_MAP && ekv_reply_len(r) == 2);
    CHECK(reply_is(ekv_reply_element(r, 0), EKV_REPLY_STRING, "databases", 9));
    CHECK(reply_is(ekv_reply_element(r, 1), EKV_REPLY_STRING, "16", 2));
    ekv_reply_free(r);

    /* VERB: INFO and CLIENT INFO are verbatim strings in RESP3. */
    r = CMD(c, "INFO", "server");
    CHECK(ekv_reply_type(r) == EKV_REPLY_VERB);
    CHECK(ekv_reply_verb_format(r) != NULL && strcmp(ekv_reply_verb_format(r), "txt") == 0);
    {
        size_t n = 0;
        const uint8_t *p = ekv_reply_str(r, &n);
        CHECK(p && n == ekv_reply_len(r) && strstr((const char *)p, "redis_version:") != NULL);
    }
    ekv_reply_free(r);

    /* SET: COMMAND INFO's flags and ACL categories are sets in RESP3. */
    r = CMD(c, "COMMAND", "INFO", "get");
    CHECK(ekv_reply_type(r) == EKV_REPLY_ARRAY && ekv_reply_len(r) == 1);
    const ekv_reply *entry = ekv_reply_element(r, 0);
    CHECK(reply_is(ekv_reply_element(entry, 0), EKV_REPLY_STRING, "get", 3));
    CHECK(ekv_reply_integer(ekv_reply_element(entry, 1)) == 2);
    const ekv_reply *flags = ekv_reply_element(entry, 2);
    CHECK(ekv_reply_type(flags) == EKV_REPLY_SET);
    int readonly = 0;
    for (size_t i = 0; i < ekv_reply_len(flags); i++)
        readonly |= reply_is(ekv_reply_element(flags, i), EKV_REPLY_STATUS, "readonly", 8);
    CHECK(readonly);
    ekv_reply_free(r);

    /* DOUBLE: ZSCORE in RESP3, once sorted sets are in the engine.
     * (BOOL and BIGNUM have no Redis 7 command; the Rust unit tests of
     * ffi/src/reply.rs cover their conversion.) */
    r = CMD(c, "ZADD", "z", "1.5", "m");
    if (is_unknown_command(r)) {
        printf("note: ZADD unknown to this engine yet, EKV_REPLY_DOUBLE not exercised from C\n");
        ekv_reply_free(r);
    } else {
        CHECK(take_int(r, 1));
        r = CMD(c, "ZSCORE", "z", "m");
        CHECK(ekv_reply_type(r) == EKV_REPLY_DOUBLE && ekv_reply_double(r) == 1.5);
        CHECK(reply_is(r, EKV_REPLY_DOUBLE, "1.5", 3));
        ekv_reply_free(r);
        CHECK(take_int(CMD(c, "ZADD", "z", "inf", "n"), 1));
        r = CMD(c, "ZSCORE", "z", "n");
        CHECK(ekv_reply_type(r) == EKV_REPLY_DOUBLE && isinf(ekv_reply_double(r)));
        CHECK(reply_is(r, EKV_REPLY_DOUBLE, "inf", 3));
        ekv_reply_free(r);
    }

    /* Back to RESP2: the same commands lower to RESP2 shapes. */
    r = CMD(c, "HELLO", "2");
    CHECK(ekv_reply_type(r) == EKV_REPLY_ARRAY && ekv_reply_len(r) == 14);
    ekv_reply_free(r);
    r = CMD(c, "INFO", "server");
    CHECK(ekv_reply_type(r) == EKV_REPLY_STRING && ekv_reply_verb_format(r) == NULL);
    ekv_reply_free(r);

    ekv_client_free(c);
    CHECK(ekv_close(db) == EKV_OK);
}

static void test_binary(void) {
    ekv_db *db = NULL;
    CHECK(ekv_open(NULL, NULL, &db) == EKV_OK);
    ekv_client *c = ekv_client_new(db);
    static const uint8_t key[] = {'k', 0, 'e', 0xff, 0};
    static const uint8_t val[] = {0, 1, 2, 0, '\r', '\n', 0xfe, 0};
    const uint8_t *argv[3] = {(const uint8_t *)"SET", key, val};
    size_t lens[3] = {3, sizeof key, sizeof val};
    ekv_reply *r = NULL;
    CHECK(ekv_command(c, 3, argv, lens, &r) == EKV_OK);
    CHECK(take_status(r, "OK"));

    argv[0] = (const uint8_t *)"GET";
    lens[0] = 3;
    CHECK(ekv_command(c, 2, argv, lens, &r) == EKV_OK);
    CHECK(reply_is(r, EKV_REPLY_STRING, val, sizeof val));
    CHECK(ekv_reply_len(r) == sizeof val);
    ekv_reply_free(r);

    /* A prefix of the key (up to its first NUL) is another key. */
    CHECK(take_nil(CMD(c, "GET", "k")));

    argv[0] = (const uint8_t *)"STRLEN";
    lens[0] = 6;
    CHECK(ekv_command(c, 2, argv, lens, &r) == EKV_OK);
    CHECK(take_int(r, sizeof val));

    /* Empty arguments; a NULL pointer is fine with length 0. */
    const uint8_t *e[3] = {(const uint8_t *)"SET", NULL, (const uint8_t *)""};
    size_t elens[3] = {3, 0, 0};
    CHECK(ekv_command(c, 3, e, elens, &r) == EKV_OK);
    CHECK(take_status(r, "OK"));
    e[0] = (const uint8_t *)"GET";
    CHECK(ekv_command(c, 2, e, elens, &r) == EKV_OK);
    CHECK(reply_is(r, EKV_REPLY_STRING, "", 0));
    ekv_reply_free(r);

    /* A 1 MiB value with every byte value. */
    size_t big = 1 << 20;
    uint8_t *buf = malloc(big);
    for (size_t i = 0; i < big; i++) buf[i] = (uint8_t)(i * 7);
    const uint8_t *bargv[3] = {(const uint8_t *)"SET", (const uint8_t *)"big", buf};
    size_t blens[3] = {3, 3, big};
    CHECK(ekv_command(c, 3, bargv, blens, &r) == EKV_OK);
    CHECK(take_status(r, "OK"));
    memset(buf, 0, big); /* the library copied it */
    r = CMD(c, "GET", "big");
    size_t n = 0;
    const uint8_t *p = ekv_reply_str(r, &n);
    CHECK(n == big && p[1] == 7 && p[big - 1] == (uint8_t)((big - 1) * 7) && p[big] == 0);
    ekv_reply_free(r);
    free(buf);

    /* More arguments than the library gathers on the stack. */
    const char *many[40];
    many[0] = "MSET";
    char names[39][16];
    for (int i = 1; i < 39; i += 2) {
        snprintf(names[i], sizeof names[i], "m%d", i);
        many[i] = names[i];
        many[i + 1] = "x";
    }
    many[39] = NULL;
    CHECK(take_status(cmd_strs(c, many), "OK"));
    CHECK(take_str(CMD(c, "GET", "m37"), "x"));

    ekv_client_free(c);
    CHECK(ekv_close(db) == EKV_OK);
}

static void test_error_replies(void) {
    ekv_db *db = NULL;
    CHECK(ekv_open(NULL, NULL, &db) == EKV_OK);
    ekv_client *c = ekv_client_new(db);
    CHECK(take_error(CMD(c, "NOSUCHCMD", "x"), "ERR unknown command 'NOSUCHCMD'"));
    CHECK(take_error(CMD(c, "GET"), "ERR wrong number of arguments for 'get' command"));
    CHECK(take_status(CMD(c, "SET", "s", "abc"), "OK"));
    CHECK(take_error(CMD(c, "INCR", "s"), "ERR value is not an integer or out of range"));
    CHECK(take_error(CMD(c, "SET", "s", "v", "BOGUS"), "ERR syntax error"));
    CHECK(take_error(CMD(c, "HELLO", "4"), "NOPROTO"));
    /* An error reply is a successful call: the client keeps working. */
    CHECK(take_str(CMD(c, "GET", "s"), "abc"));
    {
        ekv_reply *r = CMD(c, "LPUSH", "s", "x");
        if (is_unknown_command(r)) {
            ekv_reply_free(r);
        } else {
            CHECK(take_error(r, "WRONGTYPE Operation against a key holding the wrong kind of value"));
        }
    }
    ekv_client_free(c);
    CHECK(ekv_close(db) == EKV_OK);
}

static void test_misuse(void) {
    ekv_db *db = NULL;
    CHECK(ekv_open(NULL, NULL, NULL) == EKV_ERR_MISUSE);
    CHECK(strlen(ekv_last_error()) > 0);
    CHECK(ekv_open("", NULL, &db) == EKV_ERR_MISUSE && db == NULL);
    CHECK(ekv_client_new(NULL) == NULL);
    CHECK(strstr(ekv_last_error(), "NULL") != NULL);

    CHECK(ekv_open(NULL, NULL, &db) == EKV_OK);
    ekv_client *c = ekv_client_new(db);
    const uint8_t *argv[2] = {(const uint8_t *)"GET", (const uint8_t *)"k"};
    size_t lens[2] = {3, 1};
    ekv_reply *sentinel = (ekv_reply *)(uintptr_t)0x1, *r = sentinel;
    CHECK(ekv_command(NULL, 2, argv, lens, &r) == EKV_ERR_MISUSE && r == sentinel);
    CHECK(ekv_command(c, 2, argv, lens, NULL) == EKV_ERR_MISUSE);
    CHECK(ekv_command(c, 0, argv, lens, &r) == EKV_ERR_MISUSE && r == sentinel);
    CHECK(strstr(ekv_last_error(), "argc") != NULL);
    CHECK(ekv_command(c, 2, NULL, lens, &r) == EKV_ERR_MISUSE && r == sentinel);
    const uint8_t *nulls[2] = {(const uint8_t *)"GET", NULL};
    CHECK(ekv_command(c, 2, nulls, lens, &r) == EKV_ERR_MISUSE && r == sentinel);
    CHECK(strstr(ekv_last_error(), "argv[1]") != NULL);
    CHECK(ekv_command(c, 2, nulls, NULL, &r) == EKV_ERR_MISUSE && r == sentinel);

    /* Accessors on NULL answer "nothing"; frees accept NULL. */
    size_t n = 99;
    CHECK(ekv_reply_type(NULL) == 0);
    CHECK(ekv_reply_integer(NULL) == 0);
    CHECK(ekv_reply_double(NULL) == 0.0);
    CHECK(ekv_reply_str(NULL, &n) == NULL && n == 0);
    CHECK(ekv_reply_len(NULL) == 0);
    CHECK(ekv_reply_element(NULL, 0) == NULL);
    CHECK(ekv_reply_verb_format(NULL) == NULL);
    ekv_reply_free(NULL);
    ekv_client_free(NULL);
    ekv_options_free(NULL);
    CHECK(ekv_close(NULL) == EKV_OK);

    /* Freeing an element instead of the root is ignored (no double free
     * when the root goes: ASan/valgrind would see it). */
    r = CMD(c, "MGET", "a", "b");
    ekv_reply_free((ekv_reply *)ekv_reply_element(r, 1));
    CHECK(ekv_reply_len(r) == 2);
    ekv_reply_free(r);

    ekv_client_free(c);
    CHECK(ekv_close(db) == EKV_OK);
}

/* Replies are the caller's until freed: they outlive the next command, the
 * client and the database, and may be freed in any order (a client lends
 * its small replies a reusable block; ASan / valgrind watch it). */
static void test_reply_lifetimes(void) {
    ekv_db *db = NULL;
    CHECK(ekv_open(NULL, NULL, &db) == EKV_OK);
    ekv_client *c = ekv_client_new(db);
    CHECK(take_status(CMD(c, "SET", "a", "alpha"), "OK"));
    CHECK(take_status(CMD(c, "SET", "b", "beta"), "OK"));
    ekv_reply *r1 = CMD(c, "GET", "a");
    ekv_reply *r2 = CMD(c, "GET", "b");       /* r1 still held */
    ekv_reply *r3 = CMD(c, "MGET", "a", "b");  /* a small tree */
    CHECK(reply_is(r1, EKV_REPLY_STRING, "alpha", 5));
    CHECK(reply_is(r2, EKV_REPLY_STRING, "beta", 4));
    ekv_reply_free(r1);
    ekv_reply *r4 = CMD(c, "GET", "b");        /* reuses what r1 held */
    CHECK(reply_is(r2, EKV_REPLY_STRING, "beta", 4));
    CHECK(reply_is(r4, EKV_REPLY_STRING, "beta", 4));
    ekv_client_free(c);                        /* r2, r3, r4 outlive it */
    CHECK(ekv_close(db) == EKV_OK);
    CHECK(reply_is(ekv_reply_element(r3, 0), EKV_REPLY_STRING, "alpha", 5));
    CHECK(reply_is(r4, EKV_REPLY_STRING, "beta", 4));
    ekv_reply_free(r4);
    ekv_reply_free(r2);
    ekv_reply_free(r3);

    /* A client freed while its block is free releases it at once. */
    CHECK(ekv_open(NULL, NULL, &db) == EKV_OK);
    c = ekv_client_new(db);
    CHECK(take_status(CMD(c, "PING"), "PONG"));
    ekv_client_free(c);
    CHECK(ekv_close(db) == EKV_OK);
}

static void test_closed(void) {
    ekv_db *db = NULL;
    CHECK(ekv_open(NULL, NULL, &db) == EKV_OK);
    ekv_client *c = ekv_client_new(db);
    CHECK(take_status(CMD(c, "SET", "k", "v"), "OK"));
    CHECK(ekv_close(db) == EKV_OK);
    /* The client outlives the database and reports it closed. */
    const uint8_t *argv[2] = {(const uint8_t *)"GET", (const uint8_t *)"k"};
    ekv_reply *r = NULL;
    CHECK(ekv_command(c, 2, argv, NULL, &r) == EKV_ERR_CLOSED && r == NULL);
    CHECK(strstr(ekv_last_error(), "closed") != NULL);
    ekv_client_free(c);
}

int main(void) {
    test_version();
    test_open_close_memory();
    test_options();
    test_reply_types();
    test_binary();
    test_error_replies();
    test_misuse();
    test_reply_lifetimes();
    test_closed();
    return check_report("test_api");
}
