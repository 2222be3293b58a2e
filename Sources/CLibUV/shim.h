#include <uv.h>
/* The loop's own wake (AsyncQueue): Swift's Glibc module leaves it out. */
#include <sys/eventfd.h>
