#include <libtcc.h>
struct TCCState;
int kiln_tcc_relocate_impl(struct TCCState *state) { return tcc_relocate((TCCState *)state, TCC_RELOCATE_AUTO); }
