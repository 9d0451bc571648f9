/* nbody.c - f64 gravitational n-body simulation (all pairs, softened,
 * leapfrog/symplectic Euler) for 48 bodies with pseudo-random initial
 * state.  Stresses f64 arithmetic, sqrt and division. */
#include <stdint.h>

#ifdef __wasm__
#define EXPORT(name) __attribute__((export_name(name)))
#else
#define EXPORT(name)
#endif

#define NB 48

typedef struct { double x, y, z, vx, vy, vz, m; } Body;

static Body bodies[NB];
static volatile uint32_t g_steps = 60000;
static volatile uint32_t g_seed = 0xC0FFEEu;

static uint32_t rng_state;
static double rnd(void) {                       /* uniform in [-1, 1) */
    rng_state = rng_state * 1664525u + 1013904223u;
    return (double)(rng_state >> 8) / 8388608.0 - 1.0;
}

static void init(uint32_t seed) {
    rng_state = seed;
    double px = 0, py = 0, pz = 0, mt = 0;
    for (int i = 0; i < NB; i++) {
        Body *b = &bodies[i];
        b->x = rnd() * 10.0; b->y = rnd() * 10.0; b->z = rnd() * 2.0;
        b->vx = rnd() * 0.3; b->vy = rnd() * 0.3; b->vz = rnd() * 0.05;
        b->m = 0.5 + (rnd() + 1.0) * 0.75;
        px += b->vx * b->m; py += b->vy * b->m; pz += b->vz * b->m; mt += b->m;
    }
    for (int i = 0; i < NB; i++) {              /* zero total momentum */
        bodies[i].vx -= px / mt; bodies[i].vy -= py / mt; bodies[i].vz -= pz / mt;
    }
}

static void step(double dt) {
    const double eps2 = 0.01;
    for (int i = 0; i < NB; i++) {
        Body *a = &bodies[i];
        for (int j = i + 1; j < NB; j++) {
            Body *b = &bodies[j];
            double dx = a->x - b->x, dy = a->y - b->y, dz = a->z - b->z;
            double d2 = dx * dx + dy * dy + dz * dz + eps2;
            double d = __builtin_sqrt(d2);
            double mag = dt / (d2 * d);
            double ma = a->m * mag, mb = b->m * mag;
            a->vx -= dx * mb; a->vy -= dy * mb; a->vz -= dz * mb;
            b->vx += dx * ma; b->vy += dy * ma; b->vz += dz * ma;
        }
    }
    for (int i = 0; i < NB; i++) {
        Body *b = &bodies[i];
        b->x += dt * b->vx; b->y += dt * b->vy; b->z += dt * b->vz;
    }
}

static double energy(void) {
    const double eps2 = 0.01;
    double e = 0.0;
    for (int i = 0; i < NB; i++) {
        Body *a = &bodies[i];
        e += 0.5 * a->m * (a->vx * a->vx + a->vy * a->vy + a->vz * a->vz);
        for (int j = i + 1; j < NB; j++) {
            Body *b = &bodies[j];
            double dx = a->x - b->x, dy = a->y - b->y, dz = a->z - b->z;
            e -= a->m * b->m / __builtin_sqrt(dx * dx + dy * dy + dz * dz + eps2);
        }
    }
    return e;
}

static uint64_t bits(double d) { union { double d; uint64_t u; } v = { d }; return v.u; }

EXPORT("run") int64_t run(void) {
    init(g_seed);
    uint64_t h = bits(energy());
    uint32_t steps = g_steps;
    for (uint32_t s = 0; s < steps; s++) {
        step(0.001);
        if ((s & 255) == 255) h = h * 31 + bits(energy());
    }
    h = h * 31 + bits(energy());
    for (int i = 0; i < NB; i++) h = (h ^ bits(bodies[i].x)) * 1099511628211ull;
    return (int64_t)h;
}
