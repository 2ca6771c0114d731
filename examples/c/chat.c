/* A small chat room on libemberkv: who is in the room is a set, the room's
 * recent history is a capped list, and every line is fanned out to the
 * members with pub/sub. Each user is a thread with its own ekv_client;
 * alice reads with a callback, bob polls from his own thread, carol joins
 * late and catches up from the history.
 *
 *   cc chat.c $(pkg-config --cflags --libs emberkv) -pthread -o chat
 *   ./chat               the scripted conversation
 *   ./chat --self-test   the same, quietly, checking what everyone saw
 */
#include <emberkv.h>

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HISTORY_MAX 100

static int quiet;

/* ---- talking to the engine ---- */

/* Runs a command from NUL-terminated strings; exits on a failed call or a
 * Redis error (an example keeps error handling short). */
static ekv_reply *run(ekv_client *c, int argc, const char **argv) {
    ekv_reply *r = NULL;
    ekv_status st = ekv_command(c, (size_t)argc, (const uint8_t *const *)argv, NULL, &r);
    if (st != EKV_OK) {
        fprintf(stderr, "%s: %s: %s\n", argv[0], ekv_status_str(st), ekv_last_error());
        exit(1);
    }
    if (ekv_reply_type(r) == EKV_REPLY_ERROR) {
        fprintf(stderr, "%s: %s\n", argv[0], (const char *)ekv_reply_str(r, NULL));
        exit(1);
    }
    return r;
}

#define RUN(c, ...)                                                                   \
    run((c), (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)), \
        (const char *[]){__VA_ARGS__})

static void run_free(ekv_client *c, int argc, const char **argv) { ekv_reply_free(run(c, argc, argv)); }

#define DO(c, ...)                                                                         \
    run_free((c), (int)(sizeof((const char *[]){__VA_ARGS__}) / sizeof(const char *)), \
             (const char *[]){__VA_ARGS__})

/* True if this engine knows the command (sets and lists may not have landed). */
static int has_command(ekv_client *c, const char *name) {
    const char *argv[] = {"COMMAND", "INFO", name};
    ekv_reply *r = NULL;
    int ok = ekv_command(c, 3, (const uint8_t *const *)argv, NULL, &r) == EKV_OK &&
             ekv_reply_type(ekv_reply_element(r, 0)) == EKV_REPLY_ARRAY;
    ekv_reply_free(r);
    return ok;
}

/* ---- the room ---- */

typedef struct {
    char members[64], history[64], channel[64];
} room;

static room room_named(const char *name) {
    room r;
    snprintf(r.members, sizeof r.members, "room:%s:members", name);
    snprintf(r.history, sizeof r.history, "room:%s:history", name);
    snprintf(r.channel, sizeof r.channel, "room:%s", name);
    return r;
}

/* Appends a line to the history (capped) and fans it out. */
static void post(ekv_client *c, const room *rm, const char *fmt, ...) {
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    DO(c, "MULTI");
    DO(c, "RPUSH", rm->history, line);
    DO(c, "LTRIM", rm->history, "-100", "-1"); /* keep HISTORY_MAX lines */
    DO(c, "PUBLISH", rm->channel, line);
    DO(c, "EXEC");
}

static void join(ekv_client *c, const room *rm, const char *user) {
    DO(c, "SADD", rm->members, user);
    post(c, rm, "* %s joined", user);
}

static void leave(ekv_client *c, const room *rm, const char *user) {
    DO(c, "SREM", rm->members, user);
    post(c, rm, "* %s left", user);
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Prints who is here (sorted: a set has no order) and returns the count. */
static size_t show_presence(ekv_client *c, const room *rm, char *out, size_t outlen) {
    ekv_reply *r = RUN(c, "SMEMBERS", rm->members);
    size_t n = ekv_reply_len(r);
    const char **names = calloc(n ? n : 1, sizeof *names);
    for (size_t i = 0; i < n; i++) names[i] = (const char *)ekv_reply_str(ekv_reply_element(r, i), NULL);
    qsort(names, n, sizeof *names, cmp_str);
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        strncat(out, i ? ", " : "", outlen - strlen(out) - 1);
        strncat(out, names[i], outlen - strlen(out) - 1);
    }
    if (!quiet) printf("  (in the room: %s)\n", out);
    free(names);
    ekv_reply_free(r);
    return n;
}

/* ---- readers ---- */

typedef struct {
    const char *name;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int lines;
    char last[256];
} screen;

static void screen_init(screen *s, const char *name) {
    memset(s, 0, sizeof *s);
    s->name = name;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
}

static void screen_destroy(screen *s) {
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
}

/* Shows a pub/sub push on a user's screen: ["message", channel, line]. */
static void show_message(screen *s, const ekv_reply *msg) {
    size_t klen = 0, len = 0;
    const uint8_t *kind = ekv_reply_str(ekv_reply_element(msg, 0), &klen);
    if (!kind || klen != 7 || memcmp(kind, "message", 7) != 0) return; /* (un)subscribe confirmations */
    const uint8_t *line = ekv_reply_str(ekv_reply_element(msg, 2), &len);
    pthread_mutex_lock(&s->mu);
    s->lines++;
    snprintf(s->last, sizeof s->last, "%.*s", (int)len, (const char *)line);
    if (!quiet) printf("  [%s's screen] %s\n", s->name, s->last);
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
}

/* alice: pushed on an emberkv thread. */
static void on_message(void *userdata, const ekv_reply *msg) { show_message(userdata, msg); }

/* bob: his own thread polls until the subscription closes. */
typedef struct {
    ekv_subscription *sub;
    screen *screen;
} poller;

static void *poll_loop(void *arg) {
    poller *p = arg;
    ekv_reply *msg;
    while (ekv_subscription_next(p->sub, -1, &msg) == EKV_OK) {
        show_message(p->screen, msg);
        ekv_reply_free(msg);
    }
    return NULL;
}

static void wait_lines(screen *s, int lines) {
    pthread_mutex_lock(&s->mu);
    while (s->lines < lines) pthread_cond_wait(&s->cv, &s->mu);
    pthread_mutex_unlock(&s->mu);
}

static ekv_subscription *subscribe(ekv_db *db, const room *rm) {
    ekv_subscription *sub;
    if (ekv_subscription_new(db, &sub) != EKV_OK ||
        ekv_subscription_subscribe(sub, (const uint8_t *)rm->channel, strlen(rm->channel)) != EKV_OK) {
        fprintf(stderr, "subscribe: %s\n", ekv_last_error());
        exit(1);
    }
    return sub;
}

#define EXPECT(cond)                                                   \
    do {                                                               \
        if (!(cond)) {                                                 \
            fprintf(stderr, "chat self-test failed: %s\n", #cond);     \
            failed = 1;                                                \
        }                                                              \
    } while (0)

int main(int argc, char **argv) {
    int self_test = argc > 1 && strcmp(argv[1], "--self-test") == 0;
    quiet = self_test;
    int failed = 0;

    ekv_db *db;
    if (ekv_open(NULL, NULL, &db) != EKV_OK) {
        fprintf(stderr, "ekv_open: %s\n", ekv_last_error());
        return 1;
    }
    ekv_client *alice = ekv_client_new(db), *bob = ekv_client_new(db), *carol = ekv_client_new(db);
    const char *needed[] = {"SADD", "SMEMBERS", "SREM", "RPUSH", "LTRIM", "LRANGE", "LLEN"};
    for (size_t i = 0; i < sizeof needed / sizeof *needed; i++) {
        if (!has_command(alice, needed[i])) {
            printf("chat: this emberkv has no %s yet (sets and lists land later); nothing to run\n", needed[i]);
            ekv_client_free(alice), ekv_client_free(bob), ekv_client_free(carol);
            ekv_close(db);
            return 0;
        }
    }
    room lobby = room_named("lobby");
    char who[256];

    screen alice_screen, bob_screen, carol_screen;
    screen_init(&alice_screen, "alice");
    screen_init(&bob_screen, "bob");
    screen_init(&carol_screen, "carol");

    ekv_subscription *alice_sub = subscribe(db, &lobby);
    ekv_subscription_set_callback(alice_sub, on_message, &alice_screen);
    ekv_subscription *bob_sub = subscribe(db, &lobby);
    poller bob_poller = {bob_sub, &bob_screen};
    pthread_t bob_thread;
    pthread_create(&bob_thread, NULL, poll_loop, &bob_poller);

    if (!quiet) printf("alice and bob join the lobby\n");
    join(alice, &lobby, "alice");
    join(bob, &lobby, "bob");
    post(alice, &lobby, "alice: hi bob!");
    post(bob, &lobby, "bob: hey alice, what's new?");
    post(alice, &lobby, "alice: emberkv runs in my process now");
    wait_lines(&alice_screen, 5);
    wait_lines(&bob_screen, 5);
    EXPECT(show_presence(alice, &lobby, who, sizeof who) == 2);

    if (!quiet) printf("carol joins late and reads the history first\n");
    ekv_reply *h = RUN(carol, "LRANGE", lobby.history, "0", "-1");
    if (!quiet)
        for (size_t i = 0; i < ekv_reply_len(h); i++)
            printf("  [carol's backlog] %s\n", (const char *)ekv_reply_str(ekv_reply_element(h, i), NULL));
    EXPECT(ekv_reply_len(h) == 5);
    ekv_reply_free(h);
    ekv_subscription *carol_sub = subscribe(db, &lobby);
    ekv_subscription_set_callback(carol_sub, on_message, &carol_screen);
    join(carol, &lobby, "carol");
    post(carol, &lobby, "carol: what did I miss?");
    leave(bob, &lobby, "bob");
    ekv_subscription_unsubscribe(bob_sub, (const uint8_t *)lobby.channel, strlen(lobby.channel));
    wait_lines(&alice_screen, 8);
    wait_lines(&bob_screen, 8);
    wait_lines(&carol_screen, 3);
    EXPECT(show_presence(carol, &lobby, who, sizeof who) == 2);
    EXPECT(strcmp(who, "alice, carol") == 0);

    /* The history stays capped whatever the traffic. */
    for (int i = 0; i < 2 * HISTORY_MAX; i++) post(alice, &lobby, "alice: line %d", i);
    wait_lines(&carol_screen, 3 + 2 * HISTORY_MAX);
    ekv_reply *len = RUN(alice, "LLEN", lobby.history);
    EXPECT(ekv_reply_integer(len) == HISTORY_MAX);
    ekv_reply_free(len);
    pthread_mutex_lock(&carol_screen.mu);
    EXPECT(strcmp(carol_screen.last, "alice: line 199") == 0);
    pthread_mutex_unlock(&carol_screen.mu);

    /* Closing wakes bob's polling thread; after free no callback runs, so
     * the screens can go. */
    ekv_subscription_close(bob_sub);
    pthread_join(bob_thread, NULL);
    ekv_subscription_free(bob_sub);
    ekv_subscription_free(alice_sub);
    ekv_subscription_free(carol_sub);
    EXPECT(alice_screen.lines == 8 + 2 * HISTORY_MAX);
    EXPECT(bob_screen.lines == 8); /* up to his own leaving */
    screen_destroy(&alice_screen);
    screen_destroy(&bob_screen);
    screen_destroy(&carol_screen);
    ekv_client_free(alice);
    ekv_client_free(bob);
    ekv_client_free(carol);
    if (ekv_close(db) != EKV_OK) failed = 1;
    if (self_test) printf("chat self-test: %s\n", failed ? "FAILED" : "ok");
    return failed;
}
