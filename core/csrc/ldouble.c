/* Number parsing and printing that must match redis-server bit for bit.
 *
 * Redis parses floats with the C library's strtod/strtold and prints
 * INCRBYFLOAT results with "%.17Lf" in long double precision. Rust has no
 * long double, and its float parser differs from strtod at the edges
 * (hex floats, ERANGE), so these few routines use the same C library calls. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* strtod of a NUL-terminated string of length `len`; 1 on success (Redis's
 * string2d rules: no leading space, whole string consumed, no NaN, no
 * overflow/underflow to inf/0). */
int ekv_strtod(const char *s, size_t len, double *out) {
    char *eptr;
    errno = 0;
    double v = strtod(s, &eptr);
    if (len == 0 || isspace((unsigned char)s[0]) || (size_t)(eptr - s) != len ||
        (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || fpclassify(v) == FP_ZERO)) ||
        isnan(v))
        return 0;
    *out = v;
    return 1;
}

/* Redis's string2ld on a NUL-terminated copy: the whole string must parse. */
static int parse_ld(const char *s, size_t len, long double *out) {
    char *eptr;
    if (len == 0 || len >= 5 * 1024) return 0;
    errno = 0;
    long double v = strtold(s, &eptr);
    if (isspace((unsigned char)s[0]) || eptr[0] != '\0' || (size_t)(eptr - s) != len ||
        (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || v == 0)) || errno == EINVAL ||
        isnan(v))
        return 0;
    *out = v;
    return 1;
}

/* INCRBYFLOAT arithmetic. `cur` may be NULL (missing key = 0).
 * Returns the length written to `out`, or -1 when a value is not a valid
 * float, -2 when the result would be NaN or infinite, -3 when `out` is too
 * small. */
long ekv_incrbyfloat(const char *cur, size_t curlen, const char *incr, size_t incrlen, char *out,
                     size_t outlen) {
    long double a = 0, b;
    if (cur && !parse_ld(cur, curlen, &a)) return -1;
    if (!parse_ld(incr, incrlen, &b)) return -1;
    long double v = a + b;
    if (isnan(v) || isinf(v)) return -2;
    int l = snprintf(out, outlen, "%.17Lf", v);
    if (l < 0 || (size_t)l + 1 > outlen) return -3;
    if (strchr(out, '.') != NULL) {
        char *p = out + l - 1;
        while (*p == '0') {
            p--;
            l--;
        }
        if (*p == '.') l--;
    }
    if (l == 2 && out[0] == '-' && out[1] == '0') {
        out[0] = '0';
        l = 1;
    }
    return l;
}
