// A VAE judged on the shapes world: data-set images encoded (the posterior mean), decoded, and read
// back by ShapeAnalysis. The share of reconstructions that still match their scene bounds what any
// UNet on that VAE can reach, so it tells a weak autoencoder from a weak denoiser
// (`dbtrain evaluate-vae` prints it; the model card quotes it). The DreamBooth subject gets a round
// trip of its own: a VAE that blurs its red dot into the yellow body bounds every fine-tune on it,
// however well the UNet learns.
import Foundation
import ImageIO
import Models
import Sampling

/// The round trip of the first images of a shapes data set through a VAE.
public struct VAERoundTrip: Sendable {
    /// One image's round trip.
    public struct Image: Sendable {
        public let scene: ShapeScene
        public let original: RGBImage
        public let reconstruction: RGBImage
        /// Whether ShapeAnalysis reads the original / the reconstruction as the scene's combination.
        public let originalMatches: Bool, reconstructionMatches: Bool
    }

    public let images: [Image]

    /// Round-trips images 0 ..< `count` of `dataset`, rendered at `side` pixels, through `vae`.
    public static func run(_ vae: AutoencoderKL, dataset: ShapesDataset, count: Int, side: Int) -> VAERoundTrip {
        VAERoundTrip(images: (0..<count).map { index in
            let scene = dataset.scene(at: index)
            let original = ShapeRasterizer.render(scene, side: side)
            let reconstruction = roundTrip(original, through: vae)
            return Image(scene: scene, original: original, reconstruction: reconstruction,
                         originalMatches: ShapeAnalysis.analyse(original)?.matches(scene.combination) == true,
                         reconstructionMatches: ShapeAnalysis.analyse(reconstruction)?.matches(scene.combination) == true)
        })
    }

    /// Share of round-tripped dotted stars (DottedSubject's layouts of seed 0, images 0 ..< `count`)
    /// that still read as the subject (PatternReading), on the instance background and on each of
    /// SubjectEvaluation's backgrounds, in that order; the originals all do. A background where the
    /// VAE loses the pattern bounds subject fidelity there, whatever the UNet learns.
    public static func subjectReadability(_ vae: AutoencoderKL, pattern: SubjectPattern = .dot, count: Int, side: Int)
        -> [(background: ShapeColor, share: Double)] {
        let backgrounds = [DottedSubject.instanceBackground] + SubjectEvaluation.subjectBackgrounds()
        return backgrounds.map { background in
            let read = (0..<count).filter { index in
                let layout = DottedSubject.scene(at: index, seed: 0)
                let original = DottedSubject.render(layout.with(ShapeCombination(.star, DottedSubject.bodyColor, on: background)),
                                                    pattern: pattern, side: side)
                return PatternReading.read(roundTrip(original, through: vae))?.showsSubject(pattern) == true
            }.count
            return (background, Double(read) / Double(count))
        }
    }

    /// `image` encoded (the posterior mean) and decoded by `vae`.
    static func roundTrip(_ image: RGBImage, through vae: AutoencoderKL) -> RGBImage {
        LatentImages.rgbImage(from: vae.decode(vae.encode(LatentImages.tensor(from: image)).mean))
    }

    /// Share of the images of `kind` (all when nil) whose reconstruction matches its scene.
    public func reconstructionAccuracy(of kind: ShapeKind? = nil) -> Double {
        let chosen = images.filter { kind == nil || $0.scene.combination.kind == kind }
        return chosen.isEmpty ? 0 : Double(chosen.filter(\.reconstructionMatches).count) / Double(chosen.count)
    }

    /// Share of the originals that match (1 unless the analyser misreads the generator).
    public var originalAccuracy: Double {
        images.isEmpty ? 0 : Double(images.filter(\.originalMatches).count) / Double(images.count)
    }

    /// PSNR in dB of the reconstructions against the originals, over all images' channels.
    public var psnr: Double {
        var squares = 0.0, count = 0
        for image in images {
            for (a, b) in zip(image.original.pixels, image.reconstruction.pixels) {
                let d = Double(a) - Double(b)
                squares += d * d
            }
            count += image.original.pixels.count
        }
        guard count > 0 else { return 0 }
        return squares == 0 ? .infinity : 10 * log10(255 * 255 * Double(count) / squares)
    }
}
