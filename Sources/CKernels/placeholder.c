#include "ckernels.h"
int moe_kernels_placeholder(void) { return 0; }
