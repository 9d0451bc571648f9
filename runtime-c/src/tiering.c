/* Build identity and the sampling profiler of the optimized tier (kiln_tiering.h). */
#define _GNU_SOURCE
#include "kiln_tiering.h"
#include <dlfcn.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/time.h>
#include <ucontext.h>

#if defined(__linux__)
#include <link.h>

struct build_id_search {
    uintptr_t target;  /* an address inside Kiln's image */
    uint8_t *out;
    uint32_t capacity;
    uint32_t length;
};

/* dl_iterate_phdr's callback: for the object whose loaded segments hold `target`, copies its
 * GNU build-id note. */
static int find_build_id(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    struct build_id_search *search = data;
    int holds = 0;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *header = &info->dlpi_phdr[i];
        uintptr_t start = info->dlpi_addr + header->p_vaddr;
        if (header->p_type == PT_LOAD && search->target >= start && search->target - start < header->p_memsz) holds = 1;
    }
    if (!holds) return 0;
    for (ElfW(Half) i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *header = &info->dlpi_phdr[i];
        if (header->p_type != PT_NOTE) continue;
        const uint8_t *note = (const uint8_t *)(info->dlpi_addr + header->p_vaddr);
        const uint8_t *end = note + header->p_memsz;
        while (note + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)note;
            const uint8_t *name = note + sizeof *n;
            const uint8_t *desc = name + ((n->n_namesz + 3u) & ~3u);
            if (desc + n->n_descsz > end) break;
            if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && memcmp(name, "GNU", 4) == 0) {
                uint32_t count = n->n_descsz < search->capacity ? n->n_descsz : search->capacity;
                memcpy(search->out, desc, count);
                search->length = n->n_descsz;
                return 1;
            }
            note = desc + ((n->n_descsz + 3u) & ~3u);
        }
    }
    return 1;
}
#endif

uint32_t kiln_build_id(uint8_t *out, uint32_t capacity) {
#if defined(__linux__)
    struct build_id_search search = {(uintptr_t)kiln_build_id, out, capacity, 0};
    dl_iterate_phdr(find_build_id, &search);
    return search.length;
#else
    (void)out;
    (void)capacity;
    return 0;
#endif
}

const char *kiln_build_image_path(void) {
    Dl_info where;
    if (!dladdr((void *)kiln_build_id, &where)) return 0;
    return where.dli_fname;
}

/* ---- Sampling ---- */

#define SAMPLE_CAPACITY 8192u /* a power of two */
static uintptr_t samples[SAMPLE_CAPACITY];
static uint32_t sample_head;  /* next to write (atomic) */
static uint32_t sample_tail;  /* next to drain (the drainer's) */
static pthread_mutex_t sampler_lock = PTHREAD_MUTEX_INITIALIZER;
static uint32_t sampler_users;
static struct sigaction previous_action;

static void on_sample(int signal, siginfo_t *info, void *context) {
    (void)signal;
    (void)info;
    const ucontext_t *uc = context;
    uintptr_t pc;
#if defined(__linux__) && defined(__x86_64__)
    pc = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__linux__) && defined(__aarch64__)
    pc = (uintptr_t)uc->uc_mcontext.pc;
#elif defined(__APPLE__) && defined(__x86_64__)
    pc = (uintptr_t)uc->uc_mcontext->__ss.__rip;
#elif defined(__APPLE__) && defined(__aarch64__)
    pc = (uintptr_t)uc->uc_mcontext->__ss.__pc;
#else
    pc = 0;
#endif
    uint32_t slot = __atomic_fetch_add(&sample_head, 1u, __ATOMIC_RELAXED);
    __atomic_store_n(&samples[slot & (SAMPLE_CAPACITY - 1u)], pc, __ATOMIC_RELAXED);
}

int kiln_sampler_start(uint32_t interval_us) {
    pthread_mutex_lock(&sampler_lock);
    int status = 0;
    if (sampler_users == 0) {
        struct sigaction action;
        memset(&action, 0, sizeof action);
        action.sa_sigaction = on_sample;
        /* SA_RESTART: a sample must not make a blocking system call of the program fail; SA_ONSTACK:
         * a Wasm stack may be nearly used up (Kiln gives its threads an alternate signal stack). */
        action.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
        sigemptyset(&action.sa_mask);
        struct itimerval timer = {{0, (suseconds_t)interval_us}, {0, (suseconds_t)interval_us}};
        if (sigaction(SIGPROF, &action, &previous_action) != 0) {
            status = -1;
        } else if (setitimer(ITIMER_PROF, &timer, 0) != 0) {
            sigaction(SIGPROF, &previous_action, 0);
            status = -1;
        }
    }
    if (status == 0) sampler_users++;
    pthread_mutex_unlock(&sampler_lock);
    return status;
}

void kiln_sampler_stop(void) {
    pthread_mutex_lock(&sampler_lock);
    if (sampler_users > 0 && --sampler_users == 0) {
        struct itimerval off;
        memset(&off, 0, sizeof off);
        setitimer(ITIMER_PROF, &off, 0);
        /* A signal already pending still finds a handler: the default action would end the
         * process. The handler stays installed; only the timer stops. */
    }
    pthread_mutex_unlock(&sampler_lock);
}

uint32_t kiln_sampler_drain(uintptr_t *out, uint32_t capacity) {
    pthread_mutex_lock(&sampler_lock);
    uint32_t head = __atomic_load_n(&sample_head, __ATOMIC_RELAXED);
    uint32_t available = head - sample_tail;
    if (available > SAMPLE_CAPACITY) {
        sample_tail = head - SAMPLE_CAPACITY;
        available = SAMPLE_CAPACITY;
    }
    if (available > capacity) {
        sample_tail = head - capacity;
        available = capacity;
    }
    for (uint32_t i = 0; i < available; i++) {
        out[i] = __atomic_load_n(&samples[(sample_tail + i) & (SAMPLE_CAPACITY - 1u)], __ATOMIC_RELAXED);
    }
    sample_tail += available;
    pthread_mutex_unlock(&sampler_lock);
    return available;
}
