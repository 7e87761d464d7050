// cache_latents: a cached posterior must be the bytes a fresh encode gives — alone, in any batch, and
// through whole DreamBooth steps — and an image that differs by one bit must not hit.
import Foundation
import Models
import Sampling
import Tensor
import Testing
import TestSupport
import Weights
@testable import Training

@Suite("Training: the VAE posterior cache (cache_latents)", .serialized)
struct LatentCacheTests {
    static let modelURL = DreamBoothStepTests.modelURL

    static func vae() throws -> AutoencoderKL {
        let checkpoint = try ModelCheckpoint.open(modelURL)
        return try AutoencoderKL(configuration: checkpoint.configurations.vae, parameters: checkpoint.source(.vae))
    }

    func images(_ count: Int, seed: UInt64) -> Tensor {
        var generator = TorchGenerator(seed: seed)
        let pixels = generator.randn([count, 3, 32, 32])
        for i in 0..<pixels.count { pixels.pointer[i] = max(-1, min(1, pixels.pointer[i] / 3)) }
        return pixels
    }

    func bitwiseEqual(_ a: Tensor, _ b: Tensor) -> Bool {
        a.shape == b.shape && (0..<a.count).allSatisfy { a.pointer[$0].bitPattern == b.pointer[$0].bitPattern }
    }

    @Test("hits return a fresh encode's bytes, in any batch order; a one-bit change misses")
    func hitsAndMisses() throws {
        let vae = try Self.vae()
        let pixels = images(3, seed: 5)
        let cache = LatentCache()
        let first = cache.posterior(of: pixels) { vae.encode($0) }
        let direct = vae.encode(pixels)
        #expect(bitwiseEqual(first.mean, direct.mean) && bitwiseEqual(first.logVariance, direct.logVariance))
        #expect(cache.hits == 0 && cache.misses == 3)

        // The same images reversed, and one of them nudged by one ulp in one value.
        let reordered = Tensor(uninitialized: pixels.shape)
        for row in 0..<3 { reordered[row].assign(pixels[2 - row]) }
        let nudged = reordered.copy()
        nudged[1].pointer[100] = nudged[1].pointer[100].nextUp
        var encoded = 0
        let again = cache.posterior(of: reordered) { encoded += $0.shape[0]; return vae.encode($0) }
        #expect(encoded == 0 && cache.hits == 3)
        let reference = vae.encode(reordered)
        #expect(bitwiseEqual(again.mean, reference.mean) && bitwiseEqual(again.logVariance, reference.logVariance),
                "a cached posterior must not depend on the batch it was encoded in")
        let changed = cache.posterior(of: nudged) { encoded += $0.shape[0]; return vae.encode($0) }
        #expect(encoded == 1 && cache.misses == 4, "only the nudged image is encoded")
        let changedReference = vae.encode(nudged)
        #expect(bitwiseEqual(changed.mean, changedReference.mean))
    }

    @Test("past its byte limit the cache stops keeping entries but still answers right")
    func byteLimit() throws {
        let vae = try Self.vae()
        let pixels = images(2, seed: 9)
        let perImage = 4 * 2 * vae.encode(pixels[0].reshaped([1, 3, 32, 32])).mean.count
        let cache = LatentCache(byteLimit: perImage)
        _ = cache.posterior(of: pixels) { vae.encode($0) }
        #expect(cache.bytes == perImage)
        let second = cache.posterior(of: pixels) { vae.encode($0) }
        #expect(cache.hits == 1 && cache.misses == 3)
        #expect(bitwiseEqual(second.mean, vae.encode(pixels).mean))
    }

    @Test("DreamBooth steps with cache_latents give the same losses and weights, bit for bit")
    func stepsUnchanged() throws {
        let plain = try DreamBoothStepTests().makeStep(), cached = try DreamBoothStepTests().makeStep()
        cached.latentCache = LatentCache()
        for k in [0, 1, 0, 1] {
            let (batch, draws) = DreamBoothStepTests().batch(k)
            let a = plain.accumulate(batch, noise: draws), b = cached.accumulate(batch, noise: draws)
            #expect(a.loss.bitPattern == b.loss.bitPattern && a.priorLoss?.bitPattern == b.priorLoss?.bitPattern, "losses \(a) vs \(b)")
            _ = plain.applyGradients(learningRate: 1e-3)
            _ = cached.applyGradients(learningRate: 1e-3)
        }
        #expect(cached.latentCache!.hits == 4 && cached.latentCache!.misses == 4)
        for (a, b) in zip(plain.models.arenas, cached.models.arenas) {
            #expect((0..<a.values.count).allSatisfy { a.values.base[$0].bitPattern == b.values.base[$0].bitPattern })
        }
    }
}
