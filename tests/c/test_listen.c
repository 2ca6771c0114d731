/* ekv_listen: the database served on Redis's wire protocol from inside this
 * program, talked to over plain sockets (TCP and Unix): data shared both
 * ways, AUTH and unixsocketperm options, pub/sub to a socket subscriber, a
 * blocked BLPOP woken by close, ekv_close() closing its listeners, misuse
 * (bad URL, unknown option, port in use). */
#include "check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* ---- a tiny RESP client over a socket ---- */

static int connect_url(const char *url) {
    if (strncmp(url, "tcp://", 6) == 0) {
        const char *colon = strrchr(url, ':');
        struct sockaddr_in a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)atoi(colon + 1));
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (fd < 0) return -1;
        if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            close(fd);
            return -1;
        }
        return fd;
    }
    if (strncmp(url, "unix://", 7) == 0) {
        struct sockaddr_un a;
        memset(&a, 0, sizeof a);
        a.sun_family = AF_UNIX;
        snprintf(a.sun_path, sizeof a.sun_path, "%s", url + 7);
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        if (fd < 0) return -1;
        if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
            close(fd);
            return -1;
        }
        return fd;
    }
    return -1;
}

/* Sends the NULL-terminated words as a RESP array. */
static int send_cmd(int fd, const char *const *words) {
    char buf[1024];
    size_t n = 0, argc = 0;
    while (words[argc]) argc++;
    n += (size_t)snprintf(buf + n, sizeof buf - n, "*%zu\r\n", argc);
    for (size_t i = 0; i < argc; i++)
        n += (size_t)snprintf(buf + n, sizeof buf - n, "$%zu\r\n%s\r\n", strlen(words[i]), words[i]);
    return write(fd, buf, n) == (ssize_t)n ? 0 : -1;
}

/* Reads until `want` bytes arrived (or EOF/error); NUL-terminates. */
static size_t read_n(int fd, char *buf, size_t want) {
    size_t got = 0;
    while (got < want) {
        ssize_t r = read(fd, buf + got, want - got);
        if (r <= 0) break;
        got += (size_t)r;
    }
    buf[got] = 0;
    return got;
}

/* Sends a command and checks that the reply is exactly `reply`. */
static int roundtrip(int fd, const char *const *words, const char *reply) {
    char buf[512];
    if (send_cmd(fd, words) != 0) return 0;
    size_t n = read_n(fd, buf, strlen(reply));
    if (n != strlen(reply) || memcmp(buf, reply, n) != 0) {
        fprintf(stderr, "  reply was '%s', wanted '%s'\n", buf, reply);
        return 0;
    }
    return 1;
}

#define RT(fd, reply, ...) roundtrip((fd), (const char *const[]){__VA_ARGS__, NULL}, (reply))

/* True when the peer closed the connection (read returns 0 or an error). */
static int closed_by_peer(int fd) {
    char c;
    return read(fd, &c, 1) <= 0;
}

/* ---- tests ---- */

static void shared_data_over_tcp(void) {
    ekv_db *db = NULL;
    CHECK(ekv_open(NULL, NULL, &db) == EKV_OK);
    ekv_listener *l = NULL;
    CHECK(ekv_listen(db, "tcp://127.0.0.1:0", NULL, &l) == EKV_OK);
    const char *addr = ekv_listener_addr(l);
    CHECK(addr && strncmp(addr, "tcp://127.0.0.1:", 16) == 0 && atoi(addr + 16) > 0);

    int fd = connect_url(addr);
    CHECK(fd >= 0);
    CHECK(RT(fd, "+PONG\r\n", "PING"));
    CHECK(RT(fd, "+OK\r\n", "SET", "from:socket", "1"));
    ekv_client *c = ekv_client_new(db);
    CHECK(take_str(CMD(c, "GET", "from:socket"), "1"));
    CHECK(take_status(CMD(c, "SET", "from:c", "hello"), "OK"));
    CHECK(RT(fd, "$5\r\nhello\r\n", "GET", "from:c"));
    CHECK(RT(fd, "-WRONGTYPE Operation against a key holding the wrong kind of value\r\n",
             "LPUSH", "from:c", "x"));
    /* SHUTDOWN from a client must not stop the host program */
    char buf[256];
    CHECK(send_cmd(fd, (const char *const[]){"SHUTDOWN", NULL}) == 0);
    CHECK(read_n(fd, buf, 1) == 1 && buf[0] == '-');
    close(fd);
    fd = connect_url(addr);
    CHECK(fd >= 0);
    CHECK(RT(fd, "+PONG\r\n", "PING"));

    /* close: connections are closed, no new ones, idempotent */
    ekv_listener_close(l);
    CHECK(closed_by_peer(fd));
    close(fd);
    CHECK(connect_url(addr) < 0);
    ekv_listener_close(l);
    ekv_listener_close(NULL);
    /* the database is fine without it */
    CHECK(take_str(CMD(c, "GET", "from:socket"), "1"));
    ekv_listener_free(l);
    ekv_listener_free(NULL);
    ekv_client_free(c);
    CHECK(ekv_close(db) == EKV_OK);
}

static void unix_socket_with_options(void) {
    char dir[] = "/tmp/emberkv-ctest-XXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char url[256], path[200];
    snprintf(path, sizeof path, "%s/e.sock", dir);
    snprintf(url, sizeof url, "unix://%s", path);

    ekv_db *db = NULL;
    CHECK(ekv_open(NULL, NULL, &db) == EKV_OK);
    ekv_options *o = ekv_options_new();
    CHECK(ekv_options_set(o, "requirepass", "s3cret") == EKV_OK);
    CHECK(ekv_options_set(o, "unixsocketperm", "700") == EKV_OK);
    CHECK(ekv_options_set(o, "io-threads", "1") == EKV_OK);
    CHECK(ekv_options_set(o, "maxclients", "50") == EKV_OK);
    ekv_listener *l = NULL;
    CHECK(ekv_listen(db, url, o, &l) == EKV_OK);
    ekv_options_free(o);
    CHECK(l && strcmp(ekv_listener_addr(l), url) == 0);
    struct stat st;
    CHECK(stat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0700);

    int fd = connect_url(url);
    CHECK(fd >= 0);
    CHECK(RT(fd, "-NOAUTH Authentication required.\r\n", "GET", "k"));
    CHECK(RT(fd, "+OK\r\n", "AUTH", "s3cret"));
    CHECK(RT(fd, "$-1\r\n", "GET", "k"));
    ekv_client *c = ekv_client_new(db);
    ekv_reply *mc = CMD(c, "CONFIG", "GET", "maxclients");
    CHECK(mc && ekv_reply_len(mc) == 2 && reply_is(ekv_reply_element(mc, 1), EKV_REPLY_STRING, "50", 2));
    ekv_reply_free(mc);

    /* pub/sub: the socket subscribes, C publishes */
    CHECK(RT(fd, "*3\r\n$9\r\nsubscribe\r\n$4\r\nroom\r\n:1\r\n", "SUBSCRIBE", "room"));
    CHECK(take_int(CMD(c, "PUBLISH", "room", "hi"), 1));
    char buf[256];
    const char *want = "*3\r\n$7\r\nmessage\r\n$4\r\nroom\r\n$2\r\nhi\r\n";
    CHECK(read_n(fd, buf, strlen(want)) == strlen(want) && strcmp(buf, want) == 0);

    /* ekv_close() closes the listener (connections included) and removes
     * the socket file; freeing the handle afterwards is fine */
    ekv_client_free(c);
    CHECK(ekv_close(db) == EKV_OK);
    CHECK(closed_by_peer(fd));
    close(fd);
    CHECK(access(path, F_OK) != 0);
    ekv_listener_close(l); /* closed already: nothing */
    ekv_listener_free(l);
    rmdir(dir);
}

typedef struct {
    int fd;
    int woken;
} blpop_args;

static void *blpop_thread(void *arg) {
    blpop_args *a = arg;
    send_cmd(a->fd, (const char *const[]){"BLPOP", "nothing", "0", NULL});
    a->woken = closed_by_peer(a->fd);
    return NULL;
}

static void close_wakes_a_blocked_client(void) {
    ekv_db *db = NULL;
    CHECK(ekv_open(NULL, NULL, &db) == EKV_OK);
    ekv_listener *l = NULL;
    CHECK(ekv_listen(db, "127.0.0.1:0", NULL, &l) == EKV_OK);
    blpop_args a = {connect_url(ekv_listener_addr(l)), 0};
    CHECK(a.fd >= 0);
    pthread_t t;
    CHECK(pthread_create(&t, NULL, blpop_thread, &a) == 0);
    /* wait until the server has the client blocked */
    ekv_client *c = ekv_client_new(db);
    for (int i = 0; i < 500; i++) {
        ekv_reply *r = CMD(c, "INFO", "clients");
        size_t n = 0;
        const uint8_t *s = ekv_reply_str(r, &n);
        int blocked = s && strstr((const char *)s, "blocked_clients:1") != NULL;
        ekv_reply_free(r);
        if (blocked) break;
        nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);
    }
    ekv_listener_free(l); /* closes: the BLPOP connection is dropped */
    pthread_join(t, NULL);
    CHECK(a.woken);
    close(a.fd);
    ekv_client_free(c);
    CHECK(ekv_close(db) == EKV_OK);
}

static void misuse(void) {
    ekv_db *db = NULL;
    CHECK(ekv_open(NULL, NULL, &db) == EKV_OK);
    ekv_listener *l = NULL;
    CHECK(ekv_listen(NULL, "tcp://127.0.0.1:0", NULL, &l) == EKV_ERR_MISUSE && l == NULL);
    CHECK(ekv_listen(db, NULL, NULL, &l) == EKV_ERR_MISUSE);
    CHECK(ekv_listen(db, "tcp://127.0.0.1:0", NULL, NULL) == EKV_ERR_MISUSE);
    CHECK(ekv_listen(db, "bogus", NULL, &l) == EKV_ERR_MISUSE && l == NULL);
    CHECK(strstr(ekv_last_error(), "invalid listen address") != NULL);
    CHECK(ekv_listen(db, "tcp://127.0.0.1:99999", NULL, &l) == EKV_ERR_MISUSE);
    CHECK(ekv_listen(db, "unix://", NULL, &l) == EKV_ERR_MISUSE);
    CHECK(ekv_listener_addr(NULL) == NULL);

    ekv_options *o = ekv_options_new();
    CHECK(ekv_options_set(o, "appendonly", "yes") == EKV_OK);
    CHECK(ekv_listen(db, "tcp://127.0.0.1:0", o, &l) == EKV_ERR_MISUSE && l == NULL);
    CHECK(strstr(ekv_last_error(), "unknown listener option 'appendonly'") != NULL);
    ekv_options_free(o);
    o = ekv_options_new();
    CHECK(ekv_options_set(o, "unixsocketperm", "rwx") == EKV_OK); /* checked by ekv_listen */
    CHECK(ekv_listen(db, "tcp://127.0.0.1:0", o, &l) == EKV_ERR_MISUSE);
    ekv_options_free(o);
    o = ekv_options_new();
    CHECK(ekv_options_set(o, "maxclients", "lots") == EKV_ERR_MISUSE);
    ekv_options_free(o);

    /* a port in use, a directory that does not exist: I/O errors */
    CHECK(ekv_listen(db, "tcp://127.0.0.1:0", NULL, &l) == EKV_OK);
    ekv_listener *l2 = NULL;
    CHECK(ekv_listen(db, ekv_listener_addr(l), NULL, &l2) == EKV_ERR_IO && l2 == NULL);
    CHECK(strstr(ekv_last_error(), "cannot listen on") != NULL);
    CHECK(ekv_listen(db, "unix:///nonexistent-dir-emberkv/x.sock", NULL, &l2) == EKV_ERR_IO);
    ekv_listener_free(l);

    /* a closed database: no listening */
    CHECK(ekv_close(db) == EKV_OK);
}

static void closed_database(void) {
    /* a listener freed after its database was closed, and one closed twice
     * (by ekv_close and by hand), without double frees */
    ekv_db *db = NULL;
    CHECK(ekv_open(NULL, NULL, &db) == EKV_OK);
    ekv_listener *a = NULL, *b = NULL;
    CHECK(ekv_listen(db, "tcp://127.0.0.1:0", NULL, &a) == EKV_OK);
    CHECK(ekv_listen(db, "tcp://127.0.0.1:0", NULL, &b) == EKV_OK);
    ekv_listener_close(a);
    char addr_b[128];
    snprintf(addr_b, sizeof addr_b, "%s", ekv_listener_addr(b));
    CHECK(ekv_close(db) == EKV_OK);
    CHECK(connect_url(addr_b) < 0);
    CHECK(strcmp(ekv_listener_addr(b), addr_b) == 0); /* still valid */
    ekv_listener_close(b);
    ekv_listener_free(a);
    ekv_listener_free(b);
}

int main(void) {
    shared_data_over_tcp();
    unix_socket_with_options();
    close_wakes_a_blocked_client();
    misuse();
    closed_database();
    return check_report("test_listen");
}
