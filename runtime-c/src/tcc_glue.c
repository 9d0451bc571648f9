/* libtcc as Kiln uses it: its API as a table (so that Swift calls the original and loaded copies
 * alike, and never needs TCC_RELOCATE_AUTO, a pointer constant), and copies of the compiler that
 * compile in parallel with it. */
#include <libtcc.h>
#include <stddef.h>
#include "kiln_runtime.h"

static int relocate_original(TCCState *state) { return tcc_relocate(state, TCC_RELOCATE_AUTO); }

static const kiln_tcc_api original = {
    .new_state = tcc_new,
    .delete_state = tcc_delete,
    .set_error_func = tcc_set_error_func,
    .set_options = tcc_set_options,
    .set_output_type = tcc_set_output_type,
    .add_symbol = tcc_add_symbol,
    .add_file = tcc_add_file,
    .compile_string = tcc_compile_string,
    .relocate = relocate_original,
    .get_symbol = tcc_get_symbol,
};

const kiln_tcc_api *kiln_tcc_original(void) { return &original; }

/* The copy's API table, built by code the copy compiles: its entry points are the copy's own
 * (the archive's members are loaded into the loader's state, not bound to the process's). */
static const char copy_api_source[] =
    "typedef struct TCCState TCCState;\n"
    "TCCState *tcc_new(void); void tcc_delete(TCCState *);\n"
    "void tcc_set_error_func(TCCState *, void *, void (*)(void *, const char *));\n"
    "void tcc_set_options(TCCState *, const char *); int tcc_set_output_type(TCCState *, int);\n"
    "int tcc_add_symbol(TCCState *, const char *, const void *); int tcc_add_file(TCCState *, const char *);\n"
    "int tcc_compile_string(TCCState *, const char *); int tcc_relocate(TCCState *, void *);\n"
    "void *tcc_get_symbol(TCCState *, const char *);\n"
    "static int relocate_auto(TCCState *s) { return tcc_relocate(s, (void *)1); }\n"
    "void *kiln_tcc_copy_api[] = { tcc_new, tcc_delete, tcc_set_error_func, tcc_set_options,\n"
    "    tcc_set_output_type, tcc_add_symbol, tcc_add_file, tcc_compile_string, relocate_auto, tcc_get_symbol };\n";

/* A copy that cannot load is not an error: Kiln compiles with the original alone. */
static void ignore_error(void *opaque, const char *message) { (void)opaque; (void)message; }

const kiln_tcc_api *kiln_tcc_load_copy(const char *archive) {
    TCCState *loader = tcc_new();
    if (!loader) return NULL;
    tcc_set_error_func(loader, NULL, ignore_error);
    tcc_set_output_type(loader, TCC_OUTPUT_MEMORY);
    /* Not -nostdlib: the copy's calls into the C library resolve against the process's libc. */
    if (tcc_compile_string(loader, copy_api_source) < 0 || tcc_add_file(loader, archive) < 0
        || tcc_relocate(loader, TCC_RELOCATE_AUTO) < 0) {
        tcc_delete(loader);
        return NULL;
    }
    /* The loader state stays: it holds the copy's code and data for the life of the process. */
    return (const kiln_tcc_api *)tcc_get_symbol(loader, "kiln_tcc_copy_api");
}
