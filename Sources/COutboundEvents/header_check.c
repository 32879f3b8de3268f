/* Compiles the public header as strict C11 with every warning an error, and checks the layout
   the Swift face relies on. */
#include "outbound_events.h"

_Static_assert(sizeof(oe_kv) == 2 * sizeof(const char *), "oe_kv is two pointers");
_Static_assert(OE_VERSION_NUM == ((OE_VERSION_MAJOR << 16) | (OE_VERSION_MINOR << 8) | OE_VERSION_PATCH),
               "version number");
_Static_assert(OE_AT_LEAST_VERSION(1, 0, 0), "this header is 1.0.0 or newer");
