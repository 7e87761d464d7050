// `cache_latents` (kohya's and diffusers' SDXL scripts' key): the VAE is frozen while the UNet and text
// encoder train, so an image's posterior — the encoder's mean and log-variance — is the same every
// time the image comes round. The cache keeps it, keyed by a digest of the image's exact pixel values,
// and the step draws the posterior sample from it as before: a hit gives the bytes a fresh encode
// gives, and an image that an augmentation changed (a random crop or flip) is simply a new entry.
// A DreamBooth run sees its few instance images and its class images over and over; at 512 px
// the encoder costs about as much as the UNet's forward pass, so most steps lose that much work.
// Entries stop being added (never evicted) once `byteLimit` is reached.
import Tensor

/// The VAE posteriors of images already seen, by their pixels.
public final class LatentCache: @unchecked Sendable {
    /// 128 bits of the image's float bit patterns: two independently mixed 64-bit lanes.
    struct Digest: Hashable { let high: UInt64, low: UInt64 }

    private var entries: [Digest: (mean: Tensor, logVariance: Tensor)] = [:]
    /// Bytes held by the cached tensors.
    public private(set) var bytes = 0
    public let byteLimit: Int
    /// Rows served from the cache and rows encoded, since creation.
    public private(set) var hits = 0, misses = 0

    public init(byteLimit: Int = 1 << 30) {
        self.byteLimit = byteLimit
    }

    /// The posterior (mean, log-variance) of every row of `pixels` (`[B, 3, H, W]`): cached rows are
    /// copied out, the others go to `encode` together as one batch, in their order, and are kept.
    public func posterior(of pixels: Tensor, encode: (Tensor) -> (mean: Tensor, logVariance: Tensor))
        -> (mean: Tensor, logVariance: Tensor) {
        let rows = pixels.shape[0]
        let digests = (0..<rows).map { Self.digest(pixels[$0]) }
        let missing = (0..<rows).filter { entries[digests[$0]] == nil }
        var fresh: [Int: (mean: Tensor, logVariance: Tensor)] = [:]
        if !missing.isEmpty {
            let batch = Tensor(uninitialized: [missing.count] + Array(pixels.shape.dropFirst()))
            for (i, row) in missing.enumerated() { batch[i].assign(pixels[row]) }
            let (mean, logVariance) = encode(batch)
            for (i, row) in missing.enumerated() {
                let entry = (mean: mean[i].copy(), logVariance: logVariance[i].copy())
                fresh[row] = entry
                let size = 4 * (entry.mean.count + entry.logVariance.count)
                if bytes + size <= byteLimit, entries[digests[row]] == nil {
                    entries[digests[row]] = entry
                    bytes += size
                }
            }
        }
        hits += rows - missing.count
        misses += missing.count
        let first = fresh[0] ?? entries[digests[0]]!
        let mean = Tensor(uninitialized: [rows] + first.mean.shape)
        let logVariance = Tensor(uninitialized: [rows] + first.logVariance.shape)
        for row in 0..<rows {
            let entry = fresh[row] ?? entries[digests[row]]!
            mean[row].assign(entry.mean)
            logVariance[row].assign(entry.logVariance)
        }
        return (mean, logVariance)
    }

    /// Mixes every float's bit pattern into two lanes with different multipliers (splitmix64's
    /// finaliser per word); equal pixels give equal digests, any changed bit a different one.
    static func digest(_ image: Tensor) -> Digest {
        var high: UInt64 = 0x9E37_79B9_7F4A_7C15, low: UInt64 = 0xD1B5_4A32_D192_ED03
        func mix(_ value: UInt64) -> UInt64 {
            var z = value
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        let pointer = image.pointer
        for i in 0..<image.count {
            let word = UInt64(pointer[i].bitPattern)
            high = mix(high ^ word) &+ 0x632B_E59B_D9B4_E019
            low = mix(low &+ word &* 0xFF51_AFD7_ED55_8CCD)
        }
        return Digest(high: high ^ UInt64(image.count), low: low)
    }
}
