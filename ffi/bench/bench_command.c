/* GET / SET through ekv_command from C: the FFI side of the overhead
 * benchmark (ffi/bench/run.sh; the Rust side is ffi/examples/bench_execute.rs,
 * same keys, values and loop). Prints one line per operation:
 *   <op> <ns per call, CPU time> <ns per call, wall>  (median of RUNS)
 */
#define _POSIX_C_SOURCE 200809L
#include <emberkv.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEYS 1000
#define RUNS 5

static double now(clockid_t clk) {
    struct timespec ts;
    clock_gettime(clk, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    long iters = argc > 1 ? atol(argv[1]) : 2000000;
    const char *only = argc > 2 ? argv[2] : NULL; /* "SET" or "GET": one operation */
    ekv_db *db;
    if (ekv_open(NULL, NULL, &db) != EKV_OK) return 1;
    ekv_client *c = ekv_client_new(db);
    static char keys[KEYS][16];
    size_t keylen[KEYS];
    for (int i = 0; i < KEYS; i++) keylen[i] = (size_t)snprintf(keys[i], sizeof keys[i], "key:%d", i);
    const char value[] = "0123456789abcdef0123456789abcdef"; /* 32 bytes */

    const char *ops[2] = {"SET", "GET"};
    for (int op = 0; op < 2; op++) {
        if (only && strcmp(only, ops[op]) != 0 && !(op == 0 && strcmp(only, "GET") == 0)) continue;
        double cpu[RUNS], wall[RUNS];
        for (int run = 0; run < RUNS; run++) {
            double c0 = now(CLOCK_PROCESS_CPUTIME_ID), w0 = now(CLOCK_MONOTONIC);
            long bad = 0;
            for (long i = 0; i < iters; i++) {
                int k = (int)(i % KEYS);
                const uint8_t *av[3] = {(const uint8_t *)ops[op], (const uint8_t *)keys[k], (const uint8_t *)value};
                size_t al[3] = {3, keylen[k], sizeof value - 1};
                ekv_reply *r;
                if (ekv_command(c, op == 0 ? 3 : 2, av, al, &r) != EKV_OK) return 1;
                /* touch the answer as a caller would */
                size_t n = 0;
                if (!ekv_reply_str(r, &n) || (op == 1 && n != 32)) bad++;
                ekv_reply_free(r);
            }
            cpu[run] = (now(CLOCK_PROCESS_CPUTIME_ID) - c0) / iters;
            wall[run] = (now(CLOCK_MONOTONIC) - w0) / iters;
            if (bad) return 2;
        }
        qsort(cpu, RUNS, sizeof *cpu, cmp_double);
        qsort(wall, RUNS, sizeof *wall, cmp_double);
        printf("%s %.1f %.1f\n", ops[op], cpu[RUNS / 2], wall[RUNS / 2]);
    }
    ekv_client_free(c);
    ekv_close(db);
    return 0;
}
