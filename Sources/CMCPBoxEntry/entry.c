/* See include/mcpbox_entry.h. */
#include "mcpbox_entry.h"
#if defined(__linux__)
#include "mcpbox_host.h"

/* First of the constructors (priority 101): nothing of the Swift runtime has run yet, so the
 * host never holds its pages. glibc passes constructors argc and argv. */
__attribute__((constructor(101))) static void mcpbox_entry(int argc, char **argv) {
    mcpbox_host_start(argc, argv);
}
#endif
