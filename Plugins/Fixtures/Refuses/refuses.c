/* Test fixture: a plugin whose probe says this CPU cannot run it. */
#include <string.h>
#include "moe_plugin.h"

int32_t moe_plugin_probe(const moe_host_info *host, char *reason, size_t capacity) {
    (void)host;
    if (reason && capacity > 0) {
        strncpy(reason, "needs an instruction set this CPU lacks (test fixture)", capacity - 1);
        reason[capacity - 1] = 0;
    }
    return MOE_ERR_UNSUPPORTED;
}

int32_t moe_plugin_init(uint32_t host_abi_version, const moe_plugin_api **out_api) {
    (void)host_abi_version; (void)out_api;
    return MOE_ERR_INTERNAL;  /* never reached: the probe refuses first */
}
