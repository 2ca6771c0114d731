/* A minimal program built only with `pkg-config --cflags --libs emberkv`
 * against an installed copy (tests/c/run.sh). */
#include <emberkv.h>
#include <stdio.h>
#include <string.h>

int main(void) {
    ekv_db *db;
    if (ekv_open(NULL, NULL, &db) != EKV_OK) {
        fprintf(stderr, "ekv_open: %s\n", ekv_last_error());
        return 1;
    }
    ekv_client *c = ekv_client_new(db);
    const uint8_t *argv[] = {(const uint8_t *)"ECHO", (const uint8_t *)"installed"};
    ekv_reply *r;
    int ok = ekv_command(c, 2, argv, NULL, &r) == EKV_OK;
    size_t len = 0;
    const uint8_t *s = ok ? ekv_reply_str(r, &len) : NULL;
    ok = ok && s && len == 9 && memcmp(s, "installed", 9) == 0;
    if (ok) ekv_reply_free(r);
    ekv_client_free(c);
    ekv_close(db);
    printf("emberkv %s via pkg-config: %s\n", ekv_version(), ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}
