// How closely a rendered 8-bit image agrees with the reference's (diffusers') image of the same
// request, and the one bound every parity test holds renders to: PSNR ≥ 40 dB, or no channel more than
// 2/255 away. Either suffices because float summation order differs between the engines: most images
// agree to within a level everywhere (then PSNR is high), and a flat image with one rounding flip has a
// low PSNR but a tiny largest difference.
import Foundation

/// The agreement between an image and its reference, pixel channel by pixel channel.
public struct ImageAgreement: CustomStringConvertible, Sendable {
    /// Peak signal-to-noise ratio in dB (infinite for identical images, 0 when the sizes differ).
    public let psnr: Double
    /// Largest absolute difference of one channel, in 8-bit levels (infinite when the sizes differ).
    public let maxDelta: Double
    /// Whether both images have the same number of channel values.
    public let sameSize: Bool

    /// The parity bound: PSNR ≥ 40 dB or max |Δ| ≤ 2 levels.
    public static let minimumPSNR = 40.0, maximumDelta = 2.0

    /// Whether the image is within the parity bound of its reference.
    public var matchesReference: Bool { sameSize && (psnr >= Self.minimumPSNR || maxDelta <= Self.maximumDelta) }

    public var description: String {
        sameSize ? String(format: "PSNR %.2f dB, max |Δ| %.0f", psnr, maxDelta) : "the images differ in size"
    }

    /// Compares `ours` (8-bit channels) with `theirs` (the reference's channels as floats in 0…255).
    public init(_ ours: [UInt8], _ theirs: [Float]) {
        guard ours.count == theirs.count, !ours.isEmpty else {
            (psnr, maxDelta, sameSize) = (0, .infinity, false)
            return
        }
        var squares = 0.0, largest = 0.0
        for (a, b) in zip(ours, theirs) {
            let d = Double(a) - Double(b)
            squares += d * d
            largest = max(largest, abs(d))
        }
        let mse = squares / Double(ours.count)
        (psnr, maxDelta, sameSize) = (mse == 0 ? .infinity : 10 * log10(255 * 255 / mse), largest, true)
    }
}
