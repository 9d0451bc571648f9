/* The prelude as text for libtcc, embedded at build time so it cannot drift from the header that
 * runtime-c itself is compiled against. */
#pragma clang diagnostic ignored "-Wc23-extensions"
const char kiln_prelude_text[] = {
#embed "../include/kiln_prelude.h"
    , 0};
