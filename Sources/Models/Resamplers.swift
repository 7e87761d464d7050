// diffusers' Downsample2D and Upsample2D with convolutions (use_conv=True), as SD 1.x uses them.
import Tensor
import Weights

/// Halves height and width with a stride-2 3×3 convolution.
public struct Downsample2D: Sendable {
    public let conv: Conv2dLayer
    /// The UNet pads 1 on every side; the VAE pads 0 and adds one row and column at the bottom/right
    /// first (`F.pad(x, (0, 1, 0, 1))`), which is what `asymmetricPadding` selects.
    public let asymmetricPadding: Bool

    public init(_ source: ParameterSource, _ prefix: String, channels: Int, padding: Int) throws {
        conv = try Conv2dLayer(source, "\(prefix).conv", in: channels, out: channels, kernel: 3, stride: 2, padding: padding)
        asymmetricPadding = padding == 0
    }

    /// x [N, C, H, W] → [N, C, H/2, W/2]
    public func callAsFunction(_ x: Tensor) -> Tensor {
        guard asymmetricPadding else { return conv(x) }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let padded = Tensor(zeros: [n, c, h + 1, w + 1])
        for plane in 0..<(n * c) {
            for y in 0..<h {
                (padded.pointer + (plane * (h + 1) + y) * (w + 1)).update(from: x.pointer + (plane * h + y) * w, count: w)
            }
        }
        return conv(padded)
    }
}

/// Doubles height and width (nearest neighbour), then a 3×3 convolution.
public struct Upsample2D: Sendable {
    public let conv: Conv2dLayer

    public init(_ source: ParameterSource, _ prefix: String, channels: Int) throws {
        conv = try Conv2dLayer(source, "\(prefix).conv", in: channels, out: channels, kernel: 3, padding: 1)
    }

    /// x [N, C, H, W] → [N, C, 2H, 2W], or → [N, C, size] when a size is given (the UNet passes the
    /// size of the skip connection it will meet, which is 2H − 1 when a side was odd).
    public func callAsFunction(_ x: Tensor, size: (height: Int, width: Int)? = nil) -> Tensor {
        guard let size, size != (2 * x.shape[2], 2 * x.shape[3]) else { return conv(UpsampleNearest2x.forward(x)) }
        return conv(NearestResize.forward(x, height: size.height, width: size.width))
    }
}

extension Downsample2D {
    /// As `callAsFunction`, and the pullback (the asymmetric padding's gradient is cropped away).
    public func forwardWithPullback(_ x: Tensor, arena: ParameterArena?) -> (Tensor, Pullback) {
        guard asymmetricPadding else { return conv.forwardWithPullback(x, arena: arena) }
        let (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let padded = Tensor(zeros: [n, c, h + 1, w + 1])
        for plane in 0..<(n * c) {
            for y in 0..<h {
                (padded.pointer + (plane * (h + 1) + y) * (w + 1)).update(from: x.pointer + (plane * h + y) * w, count: w)
            }
        }
        let (y, convPullback) = conv.forwardWithPullback(padded, arena: arena)
        return (y, { dy in
            let dPadded = convPullback(dy)
            let dx = Tensor(uninitialized: x.shape)
            for plane in 0..<(n * c) {
                for row in 0..<h {
                    (dx.pointer + (plane * h + row) * w).update(from: dPadded.pointer + (plane * (h + 1) + row) * (w + 1), count: w)
                }
            }
            return dx
        })
    }
}

extension Upsample2D {
    /// As `callAsFunction`, and the pullback.
    public func forwardWithPullback(_ x: Tensor, size: (height: Int, width: Int)? = nil,
                                    arena: ParameterArena?) -> (Tensor, Pullback) {
        let doubled = size.map { $0 == (2 * x.shape[2], 2 * x.shape[3]) } ?? true
        let upsampled = doubled ? UpsampleNearest2x.forward(x) : NearestResize.forward(x, height: size!.height, width: size!.width)
        let (y, convPullback) = conv.forwardWithPullback(upsampled, arena: arena)
        return (y, { dy in
            let dUpsampled = convPullback(dy)
            let dx = Tensor(zeros: x.shape)
            if doubled {
                UpsampleNearest2x.backward(gradOutput: dUpsampled, gradInput: dx)
            } else {
                NearestResize.backward(gradOutput: dUpsampled, gradInput: dx)
            }
            return dx
        })
    }
}
