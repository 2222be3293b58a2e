#pragma once
// Placeholder; the kernel helper replaces this.
int moe_kernels_placeholder(void);
