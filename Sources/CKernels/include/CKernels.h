// Kernels that need x86 intrinsics (F16C, AVX2 shuffles) or bit tricks best written in C.
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

/// Winograd F(4×4, 3×3) input transform of one channel (`height` × `width`) for tile rows firstTileRow ..<
/// firstTileRow + tileRows, `tilesX` tiles a row: V_ξ of tile (ty, tx) goes to out[ξ·plane + ty·tilesX + tx].
void dbr_winograd4x4_input(const float *channel, long height, long width, long firstTileRow, long tileRows,
                           long tilesX, long plane, float *out);
/// Winograd F(4×4, 3×3) output transform of one channel: Aᵀ M A + bias (+ skip, when not NULL, at the same
/// place) for every tile, M_ξ of tile (ty, tx) read at m[ξ·plane + ty·tilesX + tx], written into the
/// `height` × `width` channel (cut at its edges).
void dbr_winograd4x4_output(const float *m, long height, long width, long firstTileRow, long tileRows, long tilesX,
                            long plane, float bias, const float *skip, float *channel);
/// Winograd F(4×4, 3×3) filter transform G g Gᵀ of `count` ≤ 8 filters of nine taps, filter l at
/// first + l·filterStride (`turned`: each filter turned 180°, for the input gradient); element ξ of
/// filter l goes to out[ξ·plane + l].
void dbr_winograd4x4_filters(const float *first, long filterStride, long count, int turned, long plane, float *out);

#endif
