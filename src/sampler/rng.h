/* rng.h — PyTorch's CPU generator, reproduced: torch.manual_seed(seed); torch.randn(n).
 *
 * The stream is the one a torch.Generator gives over successive calls: rng_randn(r, a, n1) then
 * rng_randn(r, b, n2) equals torch.randn(n1, generator=g) then torch.randn(n2, generator=g),
 * float32, contiguous. How torch draws it:
 *   - mt19937 seeded with the low 32 bits of the seed (2**32 + 7 and 7 give the same stream);
 *   - n >= 16: n uniforms u = (mt() & 0xffffff) * 2^-24, then Box-Muller on blocks of 16,
 *     pairing j with j + 8: out[j] = r cos(θ), out[j+8] = r sin(θ), r = sqrt(-2 log(1 - u[j])),
 *     θ = 2π u[j+8]; when n % 16 != 0 the last 16 outputs are redrawn from 16 fresh uniforms;
 *   - n < 16: each value is a double Box-Muller draw from two 53-bit uniforms
 *     u = (mt64() & (2^53 - 1)) * 2^-53 with mt64() = mt() << 32 | mt(): r = sqrt(-2 log1p(-u2)),
 *     θ = 2π u1, value r cos(θ); r sin(θ) is cached in the generator and is the next n < 16
 *     value (the cache survives n >= 16 calls and is cleared by seeding).
 * torch's n >= 16 kernel depends on the CPU: with AVX2 it evaluates log and sincos with
 * Cephes-style float polynomials (avx_mathfun), otherwise (plain x86-64, AVX-512, ARM) with
 * libm's logf/cosf/sinf. Both are reproduced bit for bit; the polynomial flavour is the
 * default because it is plain float arithmetic and so gives the same noise on every machine.
 */
#ifndef XATTN_SAMPLER_RNG_H
#define XATTN_SAMPLER_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef enum xattn_rng_math {
    XATTN_RNG_MATH_AVX2 = 0, /* torch on an AVX2 CPU: Cephes polynomials, fused multiply-adds */
    XATTN_RNG_MATH_LIBM = 1  /* torch without AVX2 kernels: libm logf, cosf, sinf */
} xattn_rng_math;

#define XATTN_MT_N 624

typedef struct xattn_rng {
    uint32_t state[XATTN_MT_N]; /* mt19937 state words */
    size_t next;                /* index of the next state word to temper; N = regenerate */
    int has_cached_normal;      /* a second Box-Muller value from an n < 16 draw is waiting */
    double cached_normal;
    xattn_rng_math math;        /* Box-Muller flavour for n >= 16 (default AVX2) */
} xattn_rng;

/* Reseeds as torch.manual_seed(seed) does; sets math to XATTN_RNG_MATH_AVX2. */
void rng_seed(xattn_rng *r, uint64_t seed);
/* The next raw 32-bit mt19937 output. */
uint32_t rng_next_u32(xattn_rng *r);
/* out[n] = torch.randn(n, generator=g), continuing the stream. */
void rng_randn(xattn_rng *r, float *out, size_t n);

#endif
