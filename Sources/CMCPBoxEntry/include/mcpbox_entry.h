/* The mcpbox executable's start-up hook (entry.c): a constructor that runs before any Swift
 * code and, for `mcpbox run`, makes this process the relay host (mcpbox_host.h). Nothing to
 * call: linking the target is enough. Only the executable links it (tests do not). */
#ifndef MCPBOX_ENTRY_H
#define MCPBOX_ENTRY_H
#endif
