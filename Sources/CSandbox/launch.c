#include "mcpbox_launch.h"
