// The sRGB transfer function (IEC 61966-2-1). Edge pixels mix shape and background in proportion to the
// area each covers; light adds linearly, so the mix is made on linear intensities and encoded back to
// sRGB — what a camera would record of a sharp shape. Mixing the 8-bit values directly would darken
// every edge between two bright colours (a half-covered pixel of white on yellow would come out darker
// than both) and make thin dark shapes look thicker than they are. The analyser undoes the same mix
// to read each edge pixel's coverage.
import Foundation

/// Conversions between 8-bit sRGB values and linear intensities in [0, 1].
enum LinearLight {
    /// Linear intensity of every 8-bit sRGB value.
    static let table: [Double] = (0..<256).map { decode(Double($0) / 255) }

    /// Linear intensity of an 8-bit sRGB value.
    static func linear(_ value: UInt8) -> Double { table[Int(value)] }

    /// The 8-bit sRGB value of a linear intensity (clamped to [0, 1]), rounded to nearest.
    static func srgb8(_ linear: Double) -> UInt8 {
        UInt8((encode(min(max(linear, 0), 1)) * 255).rounded())
    }

    private static func decode(_ v: Double) -> Double {
        v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4)
    }

    private static func encode(_ l: Double) -> Double {
        l <= 0.0031308 ? l * 12.92 : 1.055 * pow(l, 1 / 2.4) - 0.055
    }
}
