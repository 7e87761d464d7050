// Resizing images as torchvision's `Resize(size, interpolation=BILINEAR)` does on a PIL image:
// the output size by torchvision's `_compute_resized_output_size` (shorter side = size, longer side
// `int(size * long / short)`, truncated), the pixels by Pillow's `Image.resize(..., BILINEAR)`
// (libImaging/Resample.c). Pillow's "bilinear" is a convolution with a triangle filter whose support
// grows with the downscale factor — so downscaling antialiases — in two separable passes (horizontal,
// then vertical), each rounding to 8 bits; coefficients are computed in double, normalised per output
// pixel, then turned into 22-bit fixed point. We follow each of those steps. Pillow 13 (not 10–12)
// sometimes runs the vertical pass first, by a rule we have not reproduced; there the intermediate
// rounding differs and up to 1 LSB changes in some pixels (Tests/TrainingTests/ImageResizeTests.swift).
// Users: the trainer (training images) and the daemon (A1111 img2img init images of another size).

/// PIL-compatible bilinear resizing of RGB images.
public enum ImageResize {
    /// The size torchvision's `Resize(size)` gives an image of `width`×`height`: the shorter side becomes
    /// `size` (a square's both sides), the longer `int(size * long / short)`.
    public static func shorterSideSize(width: Int, height: Int, shorterSide size: Int) -> (width: Int, height: Int) {
        precondition(width > 0 && height > 0 && size > 0, "sizes must be positive")
        let (short, long) = width <= height ? (width, height) : (height, width)
        // Python's int / int is the correctly rounded double quotient, as is this for sizes below 2^53.
        let newLong = Int((Double(size * long) / Double(short)).rounded(.towardZero))
        return width <= height ? (size, newLong) : (newLong, size)
    }

    /// `Resize(size, BILINEAR)` of torchvision: the shorter side becomes `size`, aspect ratio kept.
    public static func resizingShorterSide(_ image: RGBImage, to size: Int) -> RGBImage {
        let (width, height) = shorterSideSize(width: image.width, height: image.height, shorterSide: size)
        return bilinear(image, width: width, height: height)
    }

    /// Pillow's `image.resize((width, height), Image.BILINEAR)`.
    public static func bilinear(_ image: RGBImage, width: Int, height: Int) -> RGBImage {
        precondition(width > 0 && height > 0, "resize to \(width)x\(height)")
        if width == image.width && height == image.height { return image }  // Pillow copies
        let vertical = PillowFilterCoefficients(inputSize: image.height, outputSize: height)
        var current = image
        if width != image.width {
            // Only the rows the vertical pass will read are resampled horizontally (Pillow's ybox).
            let firstRow = vertical.first[0]
            let lastRow = vertical.first[height - 1] + vertical.count[height - 1]
            let horizontal = PillowFilterCoefficients(inputSize: image.width, outputSize: width)
            current = resampleRows(image, rows: firstRow..<lastRow, coefficients: horizontal)
            if height != image.height {
                return resampleColumns(current, coefficients: vertical, rowShift: firstRow)
            }
            return current
        }
        return resampleColumns(current, coefficients: vertical, rowShift: 0)
    }

    /// Horizontal pass over `rows` of `image`: output width = the coefficients' output size.
    private static func resampleRows(_ image: RGBImage, rows: Range<Int>,
                                     coefficients c: PillowFilterCoefficients) -> RGBImage {
        let outWidth = c.first.count
        var out = [UInt8](repeating: 0, count: outWidth * rows.count * 3)
        image.pixels.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                for (outRow, row) in rows.enumerated() {
                    let rowStart = row * image.width * 3
                    for x in 0..<outWidth {
                        var sums = (c.half, c.half, c.half)
                        let base = x * c.kernelSize
                        for k in 0..<c.count[x] {
                            let weight = c.fixed[base + k]
                            let i = rowStart + (c.first[x] + k) * 3
                            sums.0 += Int(input[i]) * weight
                            sums.1 += Int(input[i + 1]) * weight
                            sums.2 += Int(input[i + 2]) * weight
                        }
                        let o = (outRow * outWidth + x) * 3
                        output[o] = c.clip(sums.0); output[o + 1] = c.clip(sums.1); output[o + 2] = c.clip(sums.2)
                    }
                }
            }
        }
        return RGBImage(width: outWidth, height: rows.count, pixels: out)
    }

    /// Vertical pass; `rowShift` is the first source row the horizontal pass kept.
    private static func resampleColumns(_ image: RGBImage, coefficients c: PillowFilterCoefficients,
                                        rowShift: Int) -> RGBImage {
        let outHeight = c.first.count, width = image.width
        var out = [UInt8](repeating: 0, count: width * outHeight * 3)
        image.pixels.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                for y in 0..<outHeight {
                    let base = y * c.kernelSize, firstRow = c.first[y] - rowShift
                    for x in 0..<width {
                        var sums = (c.half, c.half, c.half)
                        for k in 0..<c.count[y] {
                            let weight = c.fixed[base + k]
                            let i = ((firstRow + k) * width + x) * 3
                            sums.0 += Int(input[i]) * weight
                            sums.1 += Int(input[i + 1]) * weight
                            sums.2 += Int(input[i + 2]) * weight
                        }
                        let o = (y * width + x) * 3
                        output[o] = c.clip(sums.0); output[o + 1] = c.clip(sums.1); output[o + 2] = c.clip(sums.2)
                    }
                }
            }
        }
        return RGBImage(width: width, height: outHeight, pixels: out)
    }
}

/// The per-output-pixel triangle-filter weights of one axis, as Pillow's `precompute_coeffs` and
/// `normalize_coeffs_8bpc` make them for the full box (0, inputSize).
struct PillowFilterCoefficients {
    /// Fixed-point fraction bits: 32 − 8 (pixel) − 2 (headroom for filters with negative lobes).
    static let precisionBits = 22
    /// Weights per output pixel, padded with zeros to `kernelSize`.
    let kernelSize: Int
    /// First input index each output pixel reads.
    let first: [Int]
    /// How many input pixels it reads.
    let count: [Int]
    /// `kernelSize` fixed-point weights per output pixel.
    let fixed: [Int]
    /// The rounding offset every sum starts from: one half in fixed point.
    var half: Int { 1 << (Self.precisionBits - 1) }

    init(inputSize: Int, outputSize: Int) {
        let scale = Double(inputSize) / Double(outputSize)
        // Upscaling keeps the unit triangle (support 1); downscaling widens it by the factor: that is
        // the antialiasing.
        let filterScale = max(scale, 1.0)
        let support = 1.0 * filterScale
        kernelSize = Int(support.rounded(.up)) * 2 + 1
        var first = [Int](repeating: 0, count: outputSize)
        var count = [Int](repeating: 0, count: outputSize)
        var fixed = [Int](repeating: 0, count: outputSize * kernelSize)
        let inverseFilterScale = 1.0 / filterScale
        var weights = [Double](repeating: 0, count: kernelSize)
        for xx in 0..<outputSize {
            let center = (Double(xx) + 0.5) * scale
            // C's (int) cast truncates toward zero; negatives are clamped to 0 right after.
            let xmin = max(Int(center - support + 0.5), 0)
            let xmax = min(Int(center + support + 0.5), inputSize) - xmin
            var total = 0.0
            for x in 0..<xmax {
                let w = Self.triangle((Double(x + xmin) - center + 0.5) * inverseFilterScale)
                weights[x] = w
                total += w
            }
            for x in 0..<xmax {
                let w = total != 0 ? weights[x] / total : weights[x]
                // Pillow rounds half away from zero by adding ±0.5 and truncating.
                let scaled = w * Double(1 << Self.precisionBits)
                fixed[xx * kernelSize + x] = scaled < 0 ? Int(-0.5 + scaled) : Int(0.5 + scaled)
            }
            first[xx] = xmin
            count[xx] = xmax
        }
        self.first = first
        self.count = count
        self.fixed = fixed
    }

    /// Pillow's bilinear filter: 1 − |x| on (−1, 1), 0 elsewhere.
    static func triangle(_ x: Double) -> Double {
        let a = abs(x)
        return a < 1.0 ? 1.0 - a : 0.0
    }

    /// A fixed-point sum back to 8 bits: shift out the fraction, clamp to 0…255 (Pillow's clip8).
    @inline(__always) func clip(_ sum: Int) -> UInt8 {
        let value = sum >> Self.precisionBits
        return UInt8(clamping: value)
    }
}
