/* Pub/sub from C with pthreads: polling and callbacks, patterns, binary
 * names, fan-out, waking a blocked waiter, overflow, misuse. */
#include "check.h"

#include <errno.h>
#include <pthread.h>
#include <time.h>

#define N 500

/* Checks that a message is [kind, a, b(, c)] with the given strings; a NULL
 * expectation is skipped, an integer third element is given as `count`. */
static int is_msg(const ekv_reply *m, const char *kind, const void *a, size_t alen, const void *b,
                  size_t blen) {
    if (ekv_reply_type(m) != EKV_REPLY_PUSH || ekv_reply_len(m) < 3) return 0;
    if (!reply_is(ekv_reply_element(m, 0), EKV_REPLY_STRING, kind, strlen(kind))) return 0;
    if (a && !reply_is(ekv_reply_element(m, 1), EKV_REPLY_STRING, a, alen)) return 0;
    if (b && !reply_is(ekv_reply_element(m, 2), EKV_REPLY_STRING, b, blen)) return 0;
    return 1;
}

static ekv_status publish(ekv_client *c, const void *ch, size_t chlen, const void *msg, size_t len,
                          int64_t *receivers) {
    const uint8_t *argv[3] = {(const uint8_t *)"PUBLISH", ch, msg};
    size_t lens[3] = {7, chlen, len};
    ekv_reply *r = NULL;
    ekv_status st = ekv_command(c, 3, argv, lens, &r);
    if (st == EKV_OK && receivers) *receivers = ekv_reply_integer(r);
    ekv_reply_free(r);
    return st;
}

/* ---- polling, with a publisher thread ---- */

typedef struct {
    ekv_db *db;
    int failures;
} publisher_args;

static void *publisher(void *arg) {
    publisher_args *p = arg;
    ekv_client *c = ekv_client_new(p->db);
    for (int i = 0; i < N; i++) {
        char payload[32];
        int n = snprintf(payload, sizeof payload, "msg-%d", i);
        if (publish(c, "news", 4, payload, (size_t)n, NULL) != EKV_OK) p->failures++;
    }
    ekv_client_free(c);
    return NULL;
}

static void test_polling(void) {
    ekv_db *db = NULL;
    CHECK(ekv_open(NULL, NULL, &db) == EKV_OK);
    ekv_subscription *sub = NULL;
    CHECK(ekv_subscription_new(db, &sub) == EKV_OK);
    CHECK(ekv_subscription_subscribe(sub, (const uint8_t *)"news", 4) == EKV_OK);
    ekv_reply *m = NULL;
    CHECK(ekv_subscription_next(sub, 1000, &m) == EKV_OK);
    CHECK(is_msg(m, "subscribe", "news", 4, NULL, 0));
    CHECK(ekv_reply_integer(ekv_reply_element(m, 2)) == 1);
    ekv_reply_free(m);

    publisher_args pa = {db, 0};
    pthread_t t;
    CHECK(pthread_create(&t, NULL, publisher, &pa) == 0);
    int in_order = 1;
    for (int i = 0; i < N; i++) {
        m = NULL;
        if (ekv_subscription_next(sub, -1, &m) != EKV_OK) {
            in_order = 0;
            break;
        }
        char payload[32];
        int n = snprintf(payload, sizeof payload, "msg-%d", i);
        in_order &= is_msg(m, "message", "news", 4, payload, (size_t)n);
        ekv_reply_free(m);
    }
    CHECK(in_order);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(pa.failures == 0);
    m = (ekv_reply *)(uintptr_t)1;
    CHECK(ekv_subscription_next(sub, 0, &m) == EKV_ERR_TIMEOUT && m == (ekv_reply *)(uintptr_t)1);
    CHECK(ekv_subscription_next(sub, 20, &m) == EKV_ERR_TIMEOUT);

    /* Patterns and binary names. */
    static const uint8_t bin_ch[] = {'b', 0, 'i', 'n'};
    static const uint8_t bin_msg[] = {0, 0xff, 0, '\n'};
    CHECK(ekv_subscription_psubscribe(sub, (const uint8_t *)"b*", 2) == EKV_OK);
    CHECK(ekv_subscription_subscribe(sub, bin_ch, sizeof bin_ch) == EKV_OK);
    CHECK(ekv_subscription_count(sub) == 3);
    CHECK(ekv_subscription_next(sub, 1000, &m) == EKV_OK);
    CHECK(is_msg(m, "psubscribe", "b*", 2, NULL, 0));
    ekv_reply_free(m);
    CHECK(ekv_subscription_next(sub, 1000, &m) == EKV_OK);
    CHECK(is_msg(m, "subscribe", bin_ch, sizeof bin_ch, NULL, 0));
    CHECK(ekv_reply_integer(ekv_reply_element(m, 2)) == 3);
    ekv_reply_free(m);

    ekv_client *c = ekv_client_new(db);
    int64_t receivers = -1;
    CHECK(publish(c, bin_ch, sizeof bin_ch, bin_msg, sizeof bin_msg, &receivers) == EKV_OK);
    CHECK(receivers == 2); /* the channel and the pattern */
    for (int i = 0; i < 2; i++) {
        CHECK(ekv_subscription_next(sub, 1000, &m) == EKV_OK);
        if (ekv_reply_len(m) == 4) {
            CHECK(is_msg(m, "pmessage", "b*", 2, bin_ch, sizeof bin_ch));
            CHECK(reply_is(ekv_reply_element(m, 3), EKV_REPLY_STRING, bin_msg, sizeof bin_msg));
        } else {
            CHECK(is_msg(m, "message", bin_ch, sizeof bin_ch, bin_msg, sizeof bin_msg));
        }
        ekv_reply_free(m);
    }

    /* Unsubscribe from every channel (NULL), then every pattern. */
    CHECK(ekv_subscription_unsubscribe(sub, NULL, 0) == EKV_OK);
    int unsubs = 0;
    while (ekv_subscription_next(sub, 0, &m) == EKV_OK) {
        unsubs += is_msg(m, "unsubscribe", NULL, 0, NULL, 0);
        ekv_reply_free(m);
    }
    CHECK(unsubs == 2);
    CHECK(ekv_subscription_punsubscribe(sub, (const uint8_t *)"b*", 2) == EKV_OK);
    CHECK(ekv_subscription_next(sub, 1000, &m) == EKV_OK);
    CHECK(is_msg(m, "punsubscribe", "b*", 2, NULL, 0));
    CHECK(ekv_reply_integer(ekv_reply_element(m, 2)) == 0);
    ekv_reply_free(m);
    CHECK(ekv_subscription_count(sub) == 0);
    CHECK(publish(c, "news", 4, "x", 1, &receivers) == EKV_OK && receivers == 0);

    /* Shard channels. */
    CHECK(ekv_subscription_ssubscribe(sub, (const uint8_t *)"shard", 5) == EKV_OK);
    CHECK(ekv_subscription_next(sub, 1000, &m) == EKV_OK);
    CHECK(is_msg(m, "ssubscribe", "shard", 5, NULL, 0));
    ekv_reply_free(m);
    CHECK(take_int(CMD(c, "SPUBLISH", "shard", "s1"), 1));
    CHECK(ekv_subscription_next(sub, 1000, &m) == EKV_OK);
    CHECK(is_msg(m, "smessage", "shard", 5, "s1", 2));
    ekv_reply_free(m);
    CHECK(ekv_subscription_sunsubscribe(sub, NULL, 0) == EKV_OK);

    ekv_client_free(c);
    ekv_subscription_free(sub);
    CHECK(ekv_close(db) == EKV_OK);
}

/* ---- callbacks ---- */

typedef struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int messages;  /* "message" pushes */
    int confirms;  /* "subscribe" pushes */
    int in_order;
    int other_thread;
    pthread_t main_thread;
} inbox;

static void on_message(void *userdata, const ekv_reply *msg) {
    inbox *in = userdata;
    pthread_mutex_lock(&in->mu);
    if (!pthread_equal(pthread_self(), in->main_thread)) in->other_thread = 1;
    if (is_msg(msg, "subscribe", "room", 4, NULL, 0)) {
        in->confirms++;
    } else {
        char payload[32];
        int n = snprintf(payload, sizeof payload, "msg-%d", in->messages);
        if (!is_msg(msg, "message", "room", 4, payload, (size_t)n)) in->in_order = 0;
        in->messages++;
    }
    pthread_cond_broadcast(&in->cv);
    pthread_mutex_unlock(&in->mu);
}

static int wait_for(inbox *in, int messages) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 10;
    pthread_mutex_lock(&in->mu);
    while (in->messages < messages) {
        if (pthread_cond_timedwait(&in->cv, &in->mu, &until) == ETIMEDOUT) break;
    }
    int got = in->messages;
    pthread_mutex_unlock(&in->mu);
    return got == messages;
}

static inbox *inbox_new(void) {
    inbox *in = calloc(1, sizeof *in);
    pthread_mutex_init(&in->mu, NULL);
    pthread_cond_init(&in->cv, NULL);
    in->in_order = 1;
    in->main_thread = pthread_self();
    return in;
}

static void inbox_free(inbox *in) {
    pthread_mutex_destroy(&in->mu);
    pthread_cond_destroy(&in->cv);
    free(in);
}

static void test_callbacks(void) {
    ekv_db *db = NULL;
    CHECK(ekv_open(NULL, NULL, &db) == EKV_OK);
    enum { SUBS = 3 };
    ekv_subscription *subs[SUBS];
    inbox *boxes[SUBS];
    for (int i = 0; i < SUBS; i++) {
        boxes[i] = inbox_new();
        CHECK(ekv_subscription_new(db, &subs[i]) == EKV_OK);
        CHECK(ekv_subscription_subscribe(subs[i], (const uint8_t *)"room", 4) == EKV_OK);
        /* The confirmation queued before the callback is delivered first. */
        CHECK(ekv_subscription_set_callback(subs[i], on_message, boxes[i]) == EKV_OK);
    }
    /* A callback subscription does not poll. */
    ekv_reply *m = NULL;
    CHECK(ekv_subscription_next(subs[0], 0, &m) == EKV_ERR_MISUSE && m == NULL);

    /* Fan-out: every PUBLISH reaches all three. */
    ekv_client *c = ekv_client_new(db);
    int64_t receivers = 0, total = 0;
    for (int i = 0; i < N; i++) {
        char payload[32];
        int n = snprintf(payload, sizeof payload, "msg-%d", i);
        CHECK(publish(c, "room", 4, payload, (size_t)n, &receivers) == EKV_OK);
        total += receivers;
    }
    CHECK(total == (int64_t)SUBS * N);
    for (int i = 0; i < SUBS; i++) {
        CHECK(wait_for(boxes[i], N));
        pthread_mutex_lock(&boxes[i]->mu);
        CHECK(boxes[i]->confirms == 1);
        CHECK(boxes[i]->in_order);
        CHECK(boxes[i]->other_thread);
        pthread_mutex_unlock(&boxes[i]->mu);
    }

    /* Free while messages are in flight, then free the userdata at once:
     * after ekv_subscription_free returns the callback must never run again
     * (ASan / valgrind would report a use after free). */
    for (int i = 0; i < 200; i++) publish(c, "room", 4, "late", 4, NULL);
    for (int i = 0; i < SUBS; i++) {
        ekv_subscription_free(subs[i]);
        inbox_free(boxes[i]);
    }
    CHECK(publish(c, "room", 4, "after", 5, &receivers) == EKV_OK && receivers == 0);

    /* Replacing a callback: the old userdata is not used after the call. */
    ekv_subscription *sub = NULL;
    CHECK(ekv_subscription_new(db, &sub) == EKV_OK);
    inbox *first = inbox_new(), *second = inbox_new();
    CHECK(ekv_subscription_set_callback(sub, on_message, first) == EKV_OK);
    CHECK(ekv_subscription_subscribe(sub, (const uint8_t *)"room", 4) == EKV_OK);
    for (int i = 0; i < 50; i++) publish(c, "room", 4, "x", 1, NULL);
    CHECK(ekv_subscription_set_callback(sub, on_message, second) == EKV_OK);
    inbox_free(first);
    for (int i = 0; i < 50; i++) publish(c, "room", 4, "x", 1, NULL);
    ekv_subscription_free(sub);
    inbox_free(second);

    ekv_client_free(c);
    CHECK(ekv_close(db) == EKV_OK);
}

/* ---- waking a blocked waiter ---- */

typedef struct {
    ekv_subscription *sub;
    ekv_status status;
} waiter_args;

static void *waiter(void *arg) {
    waiter_args *w = arg;
    ekv_reply *m = NULL;
    /* skip the confirmation, then block */
    w->status = ekv_subscription_next(w->sub, -1, &m);
    ekv_reply_free(m);
    m = NULL;
    if (w->status == EKV_OK) w->status = ekv_subscription_next(w->sub, -1, &m);
    ekv_reply_free(m);
    return NULL;
}

static void test_wakeups(void) {
    ekv_db *db = NULL;
    CHECK(ekv_open(NULL, NULL, &db) == EKV_OK);

    /* ekv_subscription_close from another thread */
    waiter_args w = {NULL, -1};
    CHECK(ekv_subscription_new(db, &w.sub) == EKV_OK);
    CHECK(ekv_subscription_subscribe(w.sub, (const uint8_t *)"quiet", 5) == EKV_OK);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, waiter, &w) == 0);
    struct timespec pause = {0, 50 * 1000 * 1000};
    nanosleep(&pause, NULL);
    ekv_subscription_close(w.sub);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(w.status == EKV_ERR_CLOSED);
    CHECK(ekv_subscription_subscribe(w.sub, (const uint8_t *)"again", 5) == EKV_ERR_CLOSED);
    ekv_subscription_free(w.sub);

    /* ekv_close of the database */
    w = (waiter_args){NULL, -1};
    CHECK(ekv_subscription_new(db, &w.sub) == EKV_OK);
    CHECK(ekv_subscription_subscribe(w.sub, (const uint8_t *)"quiet", 5) == EKV_OK);
    CHECK(pthread_create(&t, NULL, waiter, &w) == 0);
    nanosleep(&pause, NULL);
    CHECK(ekv_close(db) == EKV_OK);
    CHECK(pthread_join(t, NULL) == 0);
    CHECK(w.status == EKV_ERR_CLOSED);
    ekv_reply *m = NULL;
    CHECK(ekv_subscription_next(w.sub, 0, &m) == EKV_ERR_CLOSED);
    ekv_subscription_free(w.sub);
}

/* ---- overflow ---- */

static void test_overflow(void) {
    ekv_options *o = ekv_options_new();
    CHECK(ekv_options_set(o, "client-output-buffer-limit", "pubsub 4096 0 0") == EKV_OK);
    ekv_db *db = NULL;
    CHECK(ekv_open(NULL, o, &db) == EKV_OK);
    ekv_options_free(o);
    ekv_subscription *sub = NULL;
    CHECK(ekv_subscription_new(db, &sub) == EKV_OK);
    CHECK(ekv_subscription_subscribe(sub, (const uint8_t *)"firehose", 8) == EKV_OK);
    ekv_client *c = ekv_client_new(db);
    char payload[200];
    memset(payload, 'p', sizeof payload);
    for (int i = 0; i < 100; i++) publish(c, "firehose", 8, payload, sizeof payload, NULL);
    ekv_reply *m = NULL;
    CHECK(ekv_subscription_next(sub, 0, &m) == EKV_ERR_OVERFLOW && m == NULL);
    CHECK(strstr(ekv_last_error(), "client-output-buffer-limit") != NULL);
    int64_t receivers = -1;
    CHECK(publish(c, "firehose", 8, "x", 1, &receivers) == EKV_OK && receivers == 0);
    ekv_client_free(c);
    ekv_subscription_free(sub);
    CHECK(ekv_close(db) == EKV_OK);
}

static void test_misuse(void) {
    ekv_db *db = NULL;
    CHECK(ekv_open(NULL, NULL, &db) == EKV_OK);
    ekv_subscription *sub = NULL;
    CHECK(ekv_subscription_new(NULL, &sub) == EKV_ERR_MISUSE && sub == NULL);
    CHECK(ekv_subscription_new(db, NULL) == EKV_ERR_MISUSE);
    CHECK(ekv_subscription_new(db, &sub) == EKV_OK);
    CHECK(ekv_subscription_subscribe(NULL, (const uint8_t *)"a", 1) == EKV_ERR_MISUSE);
    CHECK(ekv_subscription_subscribe(sub, NULL, 1) == EKV_ERR_MISUSE);
    CHECK(ekv_subscription_psubscribe(sub, NULL, 0) == EKV_ERR_MISUSE);
    CHECK(ekv_subscription_unsubscribe(NULL, NULL, 0) == EKV_ERR_MISUSE);
    CHECK(ekv_subscription_set_callback(sub, NULL, NULL) == EKV_ERR_MISUSE);
    CHECK(ekv_subscription_set_callback(NULL, on_message, NULL) == EKV_ERR_MISUSE);
    CHECK(ekv_subscription_next(NULL, 0, NULL) == EKV_ERR_MISUSE);
    CHECK(ekv_subscription_next(sub, 0, NULL) == EKV_ERR_MISUSE);
    CHECK(ekv_subscription_count(NULL) == 0);
    /* Unsubscribing from nothing confirms with a nil channel, as Redis. */
    CHECK(ekv_subscription_unsubscribe(sub, NULL, 0) == EKV_OK);
    ekv_reply *m = NULL;
    CHECK(ekv_subscription_next(sub, 1000, &m) == EKV_OK);
    CHECK(is_msg(m, "unsubscribe", NULL, 0, NULL, 0));
    CHECK(ekv_reply_type(ekv_reply_element(m, 1)) == EKV_REPLY_NIL);
    ekv_reply_free(m);
    ekv_subscription_close(NULL);
    ekv_subscription_free(NULL);
    ekv_subscription_free(sub);
    CHECK(ekv_close(db) == EKV_OK);
}

int main(void) {
    test_polling();
    test_callbacks();
    test_wakeups();
    test_overflow();
    test_misuse();
    return check_report("test_pubsub");
}
