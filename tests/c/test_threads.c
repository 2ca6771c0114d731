/* Many threads share one ekv_db, each with its own client: INCR counters
 * must end exact (every command is atomic), clients may be created from
 * any thread, and ekv_last_error() is per thread. */
#include "check.h"

#include <pthread.h>

#define THREADS 8
#define ROUNDS 2000
#define SHARED 4

typedef struct {
    ekv_db *db;
    int id;
    int failures;
    char own_error[64];
    const char *err_after; /* ekv_last_error() at the end of the thread */
} worker;

static void *run(void *arg) {
    worker *w = arg;
    ekv_client *c = ekv_client_new(w->db);
    if (!c) {
        w->failures++;
        return NULL;
    }
    char own[32];
    snprintf(own, sizeof own, "own:%d", w->id);
    for (int i = 0; i < ROUNDS; i++) {
        char shared[32];
        snprintf(shared, sizeof shared, "shared:%d", i % SHARED);
        ekv_reply *r = CMD(c, "INCR", shared);
        if (!r || ekv_reply_type(r) != EKV_REPLY_INTEGER) w->failures++;
        ekv_reply_free(r);
        r = CMD(c, "INCRBY", own, "2");
        if (!r || ekv_reply_integer(r) != 2 * (i + 1)) w->failures++;
        ekv_reply_free(r);
        r = CMD(c, "APPEND", "log", "x");
        ekv_reply_free(r);
    }
    /* A misuse on this thread sets only this thread's message. */
    snprintf(w->own_error, sizeof w->own_error, "no-such-option-%d", w->id);
    ekv_options *o = ekv_options_new();
    if (ekv_options_set(o, w->own_error, "1") != EKV_ERR_MISUSE) w->failures++;
    ekv_options_free(o);
    w->err_after = ekv_last_error();
    if (!strstr(w->err_after, w->own_error)) w->failures++;
    ekv_client_free(c);
    return NULL;
}

int main(void) {
    ekv_db *db = NULL;
    CHECK(ekv_open(NULL, NULL, &db) == EKV_OK);
    pthread_t t[THREADS];
    worker w[THREADS];
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.db = db, .id = i};
        CHECK(pthread_create(&t[i], NULL, run, &w[i]) == 0);
    }
    for (int i = 0; i < THREADS; i++) {
        CHECK(pthread_join(t[i], NULL) == 0);
        CHECK(w[i].failures == 0);
    }
    CHECK(strstr(ekv_last_error(), "no-such-option") == NULL); /* main thread untouched */

    ekv_client *c = ekv_client_new(db);
    for (int k = 0; k < SHARED; k++) {
        char shared[32];
        snprintf(shared, sizeof shared, "shared:%d", k);
        CHECK(take_int(CMD(c, "INCRBY", shared, "0"), THREADS * ROUNDS / SHARED));
    }
    for (int i = 0; i < THREADS; i++) {
        char own[32];
        snprintf(own, sizeof own, "own:%d", i);
        CHECK(take_int(CMD(c, "INCRBY", own, "0"), 2 * ROUNDS));
    }
    CHECK(take_int(CMD(c, "STRLEN", "log"), THREADS * ROUNDS));
    ekv_client_free(c);
    CHECK(ekv_close(db) == EKV_OK);
    return check_report("test_threads");
}
