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

/* Replies freed on another thread while their client runs more commands. */
#define HANDOFF 2000
typedef struct {
    ekv_reply *queue[HANDOFF];
    int n, done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
} handoff;

static void *freer(void *arg) {
    handoff *h = arg;
    for (int i = 0; i < HANDOFF; i++) {
        pthread_mutex_lock(&h->mu);
        while (h->n <= i) pthread_cond_wait(&h->cv, &h->mu);
        ekv_reply *r = h->queue[i];
        pthread_mutex_unlock(&h->mu);
        if (ekv_reply_type(r) != EKV_REPLY_STRING) h->done = -1;
        ekv_reply_free(r);
    }
    return NULL;
}

static void test_free_elsewhere(ekv_db *db) {
    static handoff h;
    pthread_mutex_init(&h.mu, NULL);
    pthread_cond_init(&h.cv, NULL);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, freer, &h) == 0);
    ekv_client *c = ekv_client_new(db);
    CHECK(take_status(CMD(c, "SET", "handoff", "value"), "OK"));
    for (int i = 0; i < HANDOFF; i++) {
        ekv_reply *r = CMD(c, "GET", "handoff");
        pthread_mutex_lock(&h.mu);
        h.queue[h.n++] = r;
        pthread_cond_signal(&h.cv);
        pthread_mutex_unlock(&h.mu);
    }
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(h.done == 0);
    ekv_client_free(c);
    pthread_mutex_destroy(&h.mu);
    pthread_cond_destroy(&h.cv);
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

    test_free_elsewhere(db);
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
