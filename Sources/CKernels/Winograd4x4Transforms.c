// The filter, input and output transforms of Winograd's F(4×4, 3×3) (Tensor/Winograd4x4Conv.swift holds
// the method, the matrices and the products): eight filters, or eight tiles of a row, one per lane.
//
// Why C: an image row holds the tiles' columns interleaved (tile l's column j at 4l + j), and the
// weights hold each filter's nine taps together. Taking them apart and putting them back needs
// shuffles, and Swift's SIMD types offer none that compile to one instruction: gathering lane by lane
// took a third of a TAESD decode. Here a 4×4 transpose inside each 128-bit half (unpack + shuffle) and
// one exchange of halves do it for the tiles, an 8×8 transpose for the filters.
//
// The arithmetic is fixed operation by operation, without fused multiply-adds (contraction is off in
// this file), so that every value has known bits: the tests check each transform to the bit against a
// plain tile-by-tile (filter-by-filter) reference (Winograd4x4ConvTests).
#include "CKernels.h"
#include <immintrin.h>

#pragma clang fp contract(off)

/// Bᵀ·x for six vectors.
static inline void apply_bt(const __m256 x[6], __m256 r[6]) {
    const __m256 four = _mm256_set1_ps(4), five = _mm256_set1_ps(5), two = _mm256_set1_ps(2);
    __m256 a = _mm256_sub_ps(x[4], _mm256_mul_ps(four, x[2])), b = _mm256_sub_ps(x[3], _mm256_mul_ps(four, x[1]));
    __m256 c = _mm256_sub_ps(x[4], x[2]), d = _mm256_mul_ps(two, _mm256_sub_ps(x[3], x[1]));
    r[0] = _mm256_add_ps(_mm256_sub_ps(_mm256_mul_ps(four, x[0]), _mm256_mul_ps(five, x[2])), x[4]);
    r[1] = _mm256_add_ps(a, b);
    r[2] = _mm256_sub_ps(a, b);
    r[3] = _mm256_add_ps(c, d);
    r[4] = _mm256_sub_ps(c, d);
    r[5] = _mm256_add_ps(_mm256_sub_ps(_mm256_mul_ps(four, x[1]), _mm256_mul_ps(five, x[3])), x[5]);
}

/// Aᵀ·m for six vectors: four.
static inline void apply_at(const __m256 m[6], __m256 y[4]) {
    __m256 s = _mm256_add_ps(m[1], m[2]), d = _mm256_sub_ps(m[1], m[2]);
    __m256 s2 = _mm256_add_ps(m[3], m[4]), d2 = _mm256_sub_ps(m[3], m[4]);
    y[0] = _mm256_add_ps(_mm256_add_ps(m[0], s), s2);
    y[1] = _mm256_add_ps(d, _mm256_mul_ps(_mm256_set1_ps(2), d2));
    y[2] = _mm256_add_ps(s, _mm256_mul_ps(_mm256_set1_ps(4), s2));
    y[3] = _mm256_add_ps(_mm256_add_ps(d, _mm256_mul_ps(_mm256_set1_ps(8), d2)), m[5]);
}

/// The lanes `0 ≤ l < count` set (all ones), the others clear: a mask for maskload / maskstore.
static inline __m256i first_lanes(long count) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/// Floats start ..< start + 8 of a row `width` long, zero outside it.
static inline __m256 load_row_part(const float *row, long start, long width) {
    if (start >= 0 && start + 8 <= width) return _mm256_loadu_ps(row + start);
    // Lanes inside the row: start + l in [0, width).
    __m256i index = _mm256_add_epi32(_mm256_set1_epi32((int)start), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256i inside = _mm256_and_si256(_mm256_cmpgt_epi32(index, _mm256_set1_epi32(-1)),
                                      _mm256_cmpgt_epi32(_mm256_set1_epi32((int)width), index));
    return _mm256_maskload_ps(row + start, inside);
}

/// Columns 0–3 of four groups of four floats, one group per lane pair: from p = [g0 | g4],
/// q = [g1 | g5], r = [g2 | g6], s = [g3 | g7], vector j holds column j of g0 … g7 in lane order.
static inline void transpose_groups(__m256 p, __m256 q, __m256 r, __m256 s, __m256 column[4]) {
    __m256 pq_low = _mm256_unpacklo_ps(p, q), pq_high = _mm256_unpackhi_ps(p, q);
    __m256 rs_low = _mm256_unpacklo_ps(r, s), rs_high = _mm256_unpackhi_ps(r, s);
    column[0] = _mm256_shuffle_ps(pq_low, rs_low, 0x44);
    column[1] = _mm256_shuffle_ps(pq_low, rs_low, 0xEE);
    column[2] = _mm256_shuffle_ps(pq_high, rs_high, 0x44);
    column[3] = _mm256_shuffle_ps(pq_high, rs_high, 0xEE);
}

void dbr_winograd4x4_input(const float *channel, long height, long width, long firstTileRow, long tileRows,
                           long tilesX, long plane, float *out) {
    for (long ty = 0; ty < tileRows; ty++) {
        const long y0 = 4 * (firstTileRow + ty) - 1;
        float *rowOut = out + ty * tilesX;
        for (long tx = 0; tx < tilesX; tx += 8) {
            const long lanes = tilesX - tx < 8 ? tilesX - tx : 8, x0 = 4 * tx - 1;
            // Bᵀ down the six rows, for the 40 floats from x0 (eight tiles span 34) in five vectors:
            // t[k][i] is row i of the result for floats x0 + 8k ..< x0 + 8k + 8.
            __m256 t[5][6];
            for (int k = 0; k < 5; k++) {
                __m256 d[6];
                for (int r = 0; r < 6; r++) {
                    const long y = y0 + r;
                    d[r] = y >= 0 && y < height ? load_row_part(channel + y * width, x0 + 8 * k, width) : _mm256_setzero_ps();
                }
                apply_bt(d, t[k]);
            }
            const __m256i mask = first_lanes(lanes);
            for (int i = 0; i < 6; i++) {
                // Groups of four floats g0 … g8 (tile l starts at group l): a = [g0 | g1], b = [g2 | g3], …
                __m256 a = t[0][i], b = t[1][i], c = t[2][i], d = t[3][i], e = t[4][i];
                __m256 p = _mm256_permute2f128_ps(a, c, 0x20), q = _mm256_permute2f128_ps(a, c, 0x31);
                __m256 r = _mm256_permute2f128_ps(b, d, 0x20), s = _mm256_permute2f128_ps(b, d, 0x31);
                __m256 s1 = _mm256_permute2f128_ps(c, e, 0x20);  // [g4 | g8]
                __m256 column[6], shifted[4], result[6];
                transpose_groups(p, q, r, s, column);  // columns 0–3 of tiles 0 … 7
                transpose_groups(q, r, s, s1, shifted);  // columns 0–3 of tiles 1 … 8
                column[4] = shifted[0];
                column[5] = shifted[1];
                apply_bt(column, result);
                for (int j = 0; j < 6; j++) {
                    float *target = rowOut + (6 * i + j) * plane + tx;
                    if (lanes == 8) _mm256_storeu_ps(target, result[j]); else _mm256_maskstore_ps(target, mask, result[j]);
                }
            }
        }
    }
}

void dbr_winograd4x4_output(const float *m, long height, long width, long firstTileRow, long tileRows, long tilesX,
                            long plane, float bias, const float *skip, float *channel) {
    const __m256 bias8 = _mm256_set1_ps(bias);
    for (long ty = 0; ty < tileRows; ty++) {
        const long oy = 4 * (firstTileRow + ty);
        const float *p = m + ty * tilesX;
        for (long tx = 0; tx < tilesX; tx += 8) {
            const long lanes = tilesX - tx < 8 ? tilesX - tx : 8;
            const __m256i mask = first_lanes(lanes);
            // Aᵀ down M's six rows, column by column: c[j][r].
            __m256 c[6][4];
            for (int j = 0; j < 6; j++) {
                __m256 column[6];
                for (int i = 0; i < 6; i++) {
                    const float *source = p + (6 * i + j) * plane + tx;
                    column[i] = lanes == 8 ? _mm256_loadu_ps(source) : _mm256_maskload_ps(source, mask);
                }
                apply_at(column, c[j]);
            }
            const long ox = 4 * tx;
            for (int r = 0; r < 4 && oy + r < height; r++) {
                __m256 row[6] = {c[0][r], c[1][r], c[2][r], c[3][r], c[4][r], c[5][r]}, y[4];
                apply_at(row, y);
                for (int k = 0; k < 4; k++) y[k] = _mm256_add_ps(y[k], bias8);
                float *target = channel + (oy + r) * width + ox;
                const float *residual = skip ? skip + (oy + r) * width + ox : 0;
                if (lanes == 8 && ox + 32 <= width) {
                    // Output column 4l + k is lane l of y[k]: transpose inside halves, then pair the halves.
                    __m256 halves[4], v[4];
                    transpose_groups(y[0], y[1], y[2], y[3], halves);  // [tile l | tile l + 4], l = 0 … 3
                    v[0] = _mm256_permute2f128_ps(halves[0], halves[1], 0x20);
                    v[1] = _mm256_permute2f128_ps(halves[2], halves[3], 0x20);
                    v[2] = _mm256_permute2f128_ps(halves[0], halves[1], 0x31);
                    v[3] = _mm256_permute2f128_ps(halves[2], halves[3], 0x31);
                    for (int part = 0; part < 4; part++) {
                        __m256 value = residual ? _mm256_add_ps(v[part], _mm256_loadu_ps(residual + 8 * part)) : v[part];
                        _mm256_storeu_ps(target + 8 * part, value);
                    }
                    continue;
                }
                float lane[4][8];
                for (int k = 0; k < 4; k++) _mm256_storeu_ps(lane[k], y[k]);
                for (long l = 0; l < lanes; l++) {
                    for (int k = 0; k < 4; k++) {
                        const long x = 4 * l + k;
                        if (ox + x < width) target[x] = lane[k][l] + (residual ? residual[x] : 0.0f);
                    }
                }
            }
        }
    }
}

/// G·(a, b, c), lane by lane: the six rows of G applied to three taps (a/24 + c/6 as (a/4 + c)/6).
static inline void apply_g(__m256 a, __m256 b, __m256 c, __m256 r[6]) {
    const __m256 four = _mm256_set1_ps(4), six = _mm256_set1_ps(6), twelve = _mm256_set1_ps(12);
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 outer = _mm256_div_ps(_mm256_add_ps(a, c), six), inner = _mm256_div_ps(b, six);
    __m256 even = _mm256_div_ps(_mm256_add_ps(_mm256_div_ps(a, four), c), six), odd = _mm256_div_ps(b, twelve);
    r[0] = _mm256_div_ps(a, four);
    r[1] = _mm256_xor_ps(_mm256_add_ps(outer, inner), sign);
    r[2] = _mm256_sub_ps(inner, outer);
    r[3] = _mm256_add_ps(even, odd);
    r[4] = _mm256_sub_ps(even, odd);
    r[5] = c;
}

/// Rows of eight vectors become columns: out[j] lane i = in[i] lane j.
static inline void transpose8(__m256 v[8]) {
    __m256 t[8], s[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(v[i], v[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(v[i], v[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        s[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        s[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        s[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        s[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; i++) {
        v[i] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x20);
        v[i + 4] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x31);
    }
}

void dbr_winograd4x4_filters(const float *first, long filterStride, long count, int turned, long plane, float *out) {
    // Up to eight filters, one per lane: the nine taps of filter l are first[l·filterStride ...].
    __m256 rows[8];
    float last[8] = {0};
    for (long l = 0; l < 8; l++) {
        if (l < count) {
            const float *filter = first + l * filterStride;
            rows[l] = _mm256_loadu_ps(filter);
            last[l] = filter[8];
        } else {
            rows[l] = _mm256_setzero_ps();
        }
    }
    transpose8(rows);
    // tap[t] holds tap t of every filter (turned 180° for the input gradient: tap 8 − t).
    __m256 tap[9];
    for (int t = 0; t < 8; t++) tap[turned ? 8 - t : t] = rows[t];
    tap[turned ? 0 : 8] = _mm256_loadu_ps(last);
    // G·g column by column (six rows of three), then each row ·Gᵀ (six values).
    __m256 g0[6], g1[6], g2[6];
    apply_g(tap[0], tap[3], tap[6], g0);
    apply_g(tap[1], tap[4], tap[7], g1);
    apply_g(tap[2], tap[5], tap[8], g2);
    const __m256i mask = first_lanes(count);
    for (int i = 0; i < 6; i++) {
        __m256 row[6];
        apply_g(g0[i], g1[i], g2[i], row);
        for (int j = 0; j < 6; j++) {
            float *target = out + (6 * i + j) * plane;
            if (count == 8) _mm256_storeu_ps(target, row[j]); else _mm256_maskstore_ps(target, mask, row[j]);
        }
    }
}
