#ifndef MCPBOX_CCAP_SHIM_H
#define MCPBOX_CCAP_SHIM_H
#include <stddef.h>
#include <sys/capability.h>
#endif
