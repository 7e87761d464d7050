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

#endif
