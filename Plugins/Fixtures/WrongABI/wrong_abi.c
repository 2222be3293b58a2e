/* Test fixture: a plugin built against a future ABI. The loader must
 * refuse it with "ABI version mismatch" instead of calling into it. */
#include "moe_plugin.h"

static moe_plugin_api table = { .abi_version = MOE_PLUGIN_ABI_VERSION + 1,
                                .struct_size = sizeof(moe_plugin_api),
                                .name = "wrongabi", .version = "0" };

int32_t moe_plugin_probe(const moe_host_info *host, char *reason, size_t capacity) {
    (void)host; (void)reason; (void)capacity;
    return MOE_OK;
}

int32_t moe_plugin_init(uint32_t host_abi_version, const moe_plugin_api **out_api) {
    (void)host_abi_version;
    *out_api = &table;  /* claims success: the table's version gives it away */
    return MOE_OK;
}
