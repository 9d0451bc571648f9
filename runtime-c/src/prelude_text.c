/* The prelude as text for libtcc, embedded at build time so it cannot drift from the header that
 * runtime-c itself is compiled against. */
#pragma clang diagnostic ignored "-Wc23-extensions"
const char kiln_prelude_text[] = {
#embed "../include/kiln_prelude.h"
    , 0};

/* What the optimized tier compiles after the prelude (OptimizingCompiler): the runtime binding
 * and the numeric and SIMD helpers' own source, which inline into optimized code. */
const char kiln_optimized_text[] = {
#embed "../optimized/kiln_optimized.h"
    , 0};
const char kiln_numeric_text[] = {
#embed "numeric.c"
    , 0};
const char kiln_simd_text[] = {
#embed "simd.c"
    , 0};
const char *kiln_optimized_text_pointer(void) { return kiln_optimized_text; }
const char *kiln_numeric_text_pointer(void) { return kiln_numeric_text; }
const char *kiln_simd_text_pointer(void) { return kiln_simd_text; }
