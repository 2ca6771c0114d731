// The header compiles as C++ (extern "C", no C-only constructs) and the
// library links into a C++ program.
#include "emberkv.h"

#include <cstdio>
#include <cstring>
#include <string>

int main() {
    ekv_db *db = nullptr;
    if (ekv_open(nullptr, nullptr, &db) != EKV_OK) return 1;
    ekv_client *c = ekv_client_new(db);
    const std::string args[] = {"SET", "cpp", "ok"};
    const uint8_t *argv[3];
    size_t lens[3];
    for (int i = 0; i < 3; i++) {
        argv[i] = reinterpret_cast<const uint8_t *>(args[i].data());
        lens[i] = args[i].size();
    }
    ekv_reply *r = nullptr;
    int failed = ekv_command(c, 3, argv, lens, &r) != EKV_OK || ekv_reply_type(r) != EKV_REPLY_STATUS;
    ekv_reply_free(r);
    argv[0] = reinterpret_cast<const uint8_t *>("GET");
    failed |= ekv_command(c, 2, argv, lens, &r) != EKV_OK;
    size_t n = 0;
    const uint8_t *p = ekv_reply_str(r, &n);
    failed |= !(p && std::string(reinterpret_cast<const char *>(p), n) == "ok");
    ekv_reply_free(r);
    ekv_client_free(c);
    failed |= ekv_close(db) != EKV_OK;
    failed |= std::strcmp(ekv_version(), EKV_VERSION_STRING) != 0;
    std::printf("test_header (C++): %s\n", failed ? "FAILED" : "ok");
    return failed;
}
