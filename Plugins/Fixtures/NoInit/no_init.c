/* Test fixture: a plugin that forgot to export moe_plugin_init. */
#include "moe_plugin.h"

int32_t moe_plugin_probe(const moe_host_info *host, char *reason, size_t capacity) {
    (void)host; (void)reason; (void)capacity;
    return MOE_OK;
}
