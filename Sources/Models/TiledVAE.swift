// Tiled VAE decode and encode, with the semantics of diffusers' AutoencoderKL.tiled_decode and
// _tiled_encode (`vae.enable_tiling()`), so that an image far larger than the VAE was trained at
// decodes in the memory of one tile:
//   - a tile is `sample_size` pixels square (512 for SD 1.x), `sample_size / factor` latents (64);
//     tiles start every 3/4 of a tile (48 latents, 384 pixels), the last ones cut by the edge;
//   - each tile's output is blended into the tile above it and then the one to its left over a
//     quarter of a tile, linearly, in row-major order and in place, so a tile blends with
//     neighbours that are already blended (as diffusers' blend_v/blend_h mutate their second argument);
//   - each tile keeps its first 3/4 rows and columns; the kept parts are laid end to end.
// Tiling applies only when the input exceeds one tile, as in diffusers; below that the result is the
// plain decode/encode. Encode blends the moments (mean and log-variance, before the clamp).
import Tensor

extension AutoencoderKL {
    /// Latent tile side (diffusers' tile_latent_min_size): sample_size over the downsampling factor.
    public var latentTileSize: Int { configuration.sampleSize / configuration.downsamplingFactor }

    /// `decode`, by tiles when the latents exceed one tile.
    public func decodeTiled(_ latents: Tensor) -> Tensor {
        let tile = latentTileSize
        guard latents.shape[2] > tile || latents.shape[3] > tile else { return decode(latents) }
        return OverlappingTiles.map(latents, tile: tile, stride: Int(Double(tile) * 0.75),
                                    blend: Int(Double(configuration.sampleSize) * 0.25),
                                    keep: configuration.sampleSize - Int(Double(configuration.sampleSize) * 0.25)) { decode($0) }
    }

    /// `encode`, by tiles when the image exceeds one tile.
    public func encodeTiled(_ images: Tensor) -> (mean: Tensor, logVariance: Tensor) {
        let side = configuration.sampleSize, tile = latentTileSize
        guard images.shape[2] > side || images.shape[3] > side else { return encode(images) }
        let moments = OverlappingTiles.map(images, tile: side, stride: Int(Double(side) * 0.75), blend: Int(Double(tile) * 0.25),
                                           keep: tile - Int(Double(tile) * 0.25)) { quantConv(encoder($0)) }
        let parts = Split.forward(moments, chunks: 2, axis: 1)
        Self.clampLogVariance(parts[1])
        return (parts[0], parts[1])
    }
}

/// diffusers' overlapping-tile scheme over [B, C, H, W] tensors.
enum OverlappingTiles {
    /// Applies `f` to tiles of `x` (`tile` square, starting every `stride`), blends neighbouring
    /// outputs over `blend` rows/columns and keeps the first `keep` rows and columns of each.
    static func map(_ x: Tensor, tile: Int, stride: Int, blend: Int, keep: Int, _ f: (Tensor) -> Tensor) -> Tensor {
        let (height, width) = (x.shape[2], x.shape[3])
        let rowStarts = Array(Swift.stride(from: 0, to: height, by: stride))
        let columnStarts = Array(Swift.stride(from: 0, to: width, by: stride))
        var outputs: [[Tensor]] = []
        for i in rowStarts {
            outputs.append(columnStarts.map { j in f(crop(x, top: i, left: j, height: min(tile, height - i), width: min(tile, width - j))) })
        }
        for r in outputs.indices {
            for c in outputs[r].indices {
                if r > 0 { blendVertically(from: outputs[r - 1][c], into: outputs[r][c], extent: blend) }
                if c > 0 { blendHorizontally(from: outputs[r][c - 1], into: outputs[r][c], extent: blend) }
            }
        }
        let keptHeights = outputs.map { min(keep, $0[0].shape[2]) }, keptWidths = outputs[0].map { min(keep, $0.shape[3]) }
        let first = outputs[0][0]
        let result = Tensor(uninitialized: [first.shape[0], first.shape[1], keptHeights.reduce(0, +), keptWidths.reduce(0, +)])
        var top = 0
        for r in outputs.indices {
            var left = 0
            for c in outputs[r].indices {
                paste(outputs[r][c], rows: keptHeights[r], columns: keptWidths[c], into: result, top: top, left: left)
                left += keptWidths[c]
            }
            top += keptHeights[r]
        }
        return result
    }

    /// x[:, :, top ..< top + height, left ..< left + width] as a new tensor.
    static func crop(_ x: Tensor, top: Int, left: Int, height: Int, width: Int) -> Tensor {
        let (planes, h, w) = (x.shape[0] * x.shape[1], x.shape[2], x.shape[3])
        let y = Tensor(uninitialized: [x.shape[0], x.shape[1], height, width])
        for p in 0..<planes {
            for row in 0..<height {
                (y.pointer + (p * height + row) * width).update(from: x.pointer + (p * h + top + row) * w + left, count: width)
            }
        }
        return y
    }

    /// The top-left `rows` × `columns` of `tile` into `result` at (top, left).
    static func paste(_ tile: Tensor, rows: Int, columns: Int, into result: Tensor, top: Int, left: Int) {
        let planes = tile.shape[0] * tile.shape[1], (th, tw) = (tile.shape[2], tile.shape[3])
        let (rh, rw) = (result.shape[2], result.shape[3])
        for p in 0..<planes {
            for row in 0..<rows {
                (result.pointer + (p * rh + top + row) * rw + left).update(from: tile.pointer + (p * th + row) * tw, count: columns)
            }
        }
    }

    /// The linear weights of blend step k of n, as diffusers computes them: the Python float
    /// (k / n) rounded to fp32 where it meets the fp32 tensor.
    private static func weights(_ k: Int, _ n: Int) -> (above: Float, own: Float) {
        let t = Double(k) / Double(n)
        return (Float(1 - t), Float(t))
    }

    /// b's first rows fade in from the last rows of a (the tile above), in place.
    static func blendVertically(from a: Tensor, into b: Tensor, extent: Int) {
        let e = min(a.shape[2], b.shape[2], extent)
        let planes = b.shape[0] * b.shape[1], (ah, bh, w) = (a.shape[2], b.shape[2], b.shape[3])
        precondition(a.shape[3] == w, "vertical blend of tiles \(a.shape) and \(b.shape)")
        for y in 0..<e {
            let (wa, wb) = weights(y, e)
            for p in 0..<planes {
                let src = a.pointer + (p * ah + ah - e + y) * w, dst = b.pointer + (p * bh + y) * w
                for x in 0..<w { dst[x] = src[x] * wa + dst[x] * wb }
            }
        }
    }

    /// b's first columns fade in from the last columns of a (the tile to the left), in place.
    static func blendHorizontally(from a: Tensor, into b: Tensor, extent: Int) {
        let e = min(a.shape[3], b.shape[3], extent)
        let planes = b.shape[0] * b.shape[1], (aw, bw, h) = (a.shape[3], b.shape[3], b.shape[2])
        precondition(a.shape[2] == h, "horizontal blend of tiles \(a.shape) and \(b.shape)")
        for x in 0..<e {
            let (wa, wb) = weights(x, e)
            for p in 0..<planes {
                for y in 0..<h {
                    let src = a.pointer + (p * h + y) * aw + aw - e + x, dst = b.pointer + (p * h + y) * bw + x
                    dst.pointee = src.pointee * wa + dst.pointee * wb
                }
            }
        }
    }
}
