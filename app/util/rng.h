/* rng.h — a small portable PRNG (splitmix64) for random weights: the same seed gives the same
 * numbers on every machine and compiler, unlike rand(). Used by `natter bench`'s synthetic
 * models and by the tests' tiny model generator (tests/tiny/), whose files must not change.
 * Quality is irrelevant for random weights; speed and reproducibility matter. */
#ifndef NATTER_RNG_H
#define NATTER_RNG_H

#include <stdint.h>

/* The next 64 random bits; advances *s. */
static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Uniform in [-1, 1): 24 random bits, exact in float, so no rounding differs anywhere. */
static inline float rng_uniform(uint64_t *s)
{
    return (float)(rng_next(s) >> 40) * (2.0f / 16777216.0f) - 1.0f;
}

#endif
