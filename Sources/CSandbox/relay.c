#include "mcpbox_relay.h"
