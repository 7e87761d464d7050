// Conversions that need x86 intrinsics (F16C) or bit tricks best written in C.
#ifndef DBRENDER_CKERNELS_H
#define DBRENDER_CKERNELS_H
#include <stddef.h>
#include <stdint.h>

/// IEEE half → float for `count` values (F16C: 8 at a time).
void dbr_f16_to_f32(const uint16_t *src, float *dst, size_t count);
/// float → IEEE half, round to nearest even (F16C).
void dbr_f32_to_f16(const float *src, uint16_t *dst, size_t count);
/// bfloat16 → float: bf16 is the high half of an fp32, so this is a 16-bit shift.
void dbr_bf16_to_f32(const uint16_t *src, float *dst, size_t count);
/// float → bfloat16, round to nearest even (NaN stays NaN), as PyTorch converts.
void dbr_f32_to_bf16(const float *src, uint16_t *dst, size_t count);

/// Streaming SHA-256 state (see SHA256.c).
typedef struct {
    uint32_t state[8];
    uint64_t length;    // bytes hashed so far
    uint8_t buffer[64]; // a partial block
    size_t buffered;
    int hardware;       // use the x86 SHA extensions
} dbr_sha256_context;

/// 1 when the CPU has the SHA extensions (and SSE4.1).
int dbr_sha256_hardware_available(void);
/// Starts a hash; `allow_hardware` 0 forces the portable code (the tests compare both).
void dbr_sha256_init(dbr_sha256_context *context, int allow_hardware);
void dbr_sha256_update(dbr_sha256_context *context, const void *bytes, size_t count);
/// Finishes the hash; the context must be initialised again before reuse.
void dbr_sha256_final(dbr_sha256_context *context, uint8_t digest[32]);

#endif
