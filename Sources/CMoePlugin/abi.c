/* The ABI is header-only; SwiftPM needs one source file per C target. */
#include "moe_plugin.h"
