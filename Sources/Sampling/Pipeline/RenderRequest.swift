// What one render asks for: the fields of `POST /v1/renders`, with diffusers' and DESIGN.md's defaults.
import ImageIO

/// Parameters of a render (text-to-image, or image-to-image with `initImage`).
public struct RenderRequest: Sendable {
    public var prompt: String
    /// Empty by default, as diffusers encodes `negative_prompt=None` for guidance.
    public var negativePrompt: String = ""
    public var steps: Int = 30
    /// Classifier-free guidance scale; ≤ 1 skips the unconditional half of each UNet call.
    public var guidanceScale: Float = 7.5
    public var sampler: String = "euler_a"
    /// Image i of the request uses seed `seed + i` in its own generator.
    public var seed: UInt64
    /// Pixels; nil takes the model's native size (UNet sample_size × VAE factor: 512 for SD 1.5).
    public var width: Int?
    public var height: Int?
    public var count: Int = 1
    /// As A1111 defines it: 1 = last text-encoder layer.
    public var clipSkip: Int = 1
    /// How the prompts' text is read: A1111's emphasis syntax, or literally.
    public var promptSyntax: PromptSyntax = .a1111
    /// DDIM's η.
    public var eta: Double = 0
    /// Image-to-image: the starting image (its size sets the output size) and how much to change it.
    public var initImage: RGBImage?
    public var strength: Double = 0.8
    /// LoRAs applied to this request's rows only (other requests in the same batch are unaffected).
    public var loras: [LoRAUse] = []
    /// What turns the final latents into pixels.
    public var decoder: ImageDecoder = .vae
    /// The VAE decodes (and encodes an init image) by overlapping tiles when the image exceeds the size
    /// it was trained at, as diffusers' `enable_tiling()`: memory bounded by one tile, not the image.
    public var vaeTiling = false

    public init(prompt: String, seed: UInt64) {
        self.prompt = prompt
        self.seed = seed
    }
}

/// The decoder of a render's final latents.
public enum ImageDecoder: String, Sendable, CaseIterable {
    /// The model's own VAE: the reference image.
    case vae
    /// TAESD (diffusers' AutoencoderTiny), when the pipeline has one: about 20× less work, softer detail.
    case taesd
}

/// One finished image.
public struct RenderedImage: Sendable {
    public let image: RGBImage
    public let seed: UInt64
}

/// Progress of a render: `step` of `steps` model evaluations done.
public struct RenderProgress: Sendable, Equatable {
    public let step: Int
    public let steps: Int
    public init(step: Int, steps: Int) { self.step = step; self.steps = steps }
}

/// A render that cannot run or was stopped.
public enum RenderError: Error, Equatable, CustomStringConvertible {
    /// The request names a value outside what the model can do; `field` is the request field.
    case invalidRequest(field: String, message: String)
    /// `isCancelled` returned true between two steps.
    case cancelled

    public var description: String {
        switch self {
        case let .invalidRequest(field, message): "\(field): \(message)"
        case .cancelled: "the render was cancelled"
        }
    }
}
