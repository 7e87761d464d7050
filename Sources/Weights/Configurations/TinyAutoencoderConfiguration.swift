// `config.json` of diffusers' AutoencoderTiny (TAESD, the tiny distilled VAE users bring as
// `madebyollin/taesd` or as A1111's / ComfyUI's `taesd_decoder` file), with diffusers' defaults —
// which are also the layout of the original single files, which carry no config.
import Foundation

/// Configuration of an AutoencoderTiny.
public struct TinyAutoencoderConfiguration: Decodable, Equatable, Sendable {
    public var inChannels = 3
    public var outChannels = 3
    public var latentChannels = 4
    public var encoderBlockOutChannels = [64, 64, 64, 64]
    public var decoderBlockOutChannels = [64, 64, 64, 64]
    /// Residual blocks per stage; the encoder downsamples before every stage but the first, the
    /// decoder upsamples after every stage but the last.
    public var numEncoderBlocks = [1, 3, 3, 3]
    public var numDecoderBlocks = [3, 3, 3, 1]
    public var upsamplingScalingFactor = 2
    /// Latents are divided by this before decoding. TAESD's is 1: it reads the UNet's latents as they
    /// are (the SD VAE's 0.18215 is already inside its training data).
    public var scalingFactor: Float = 1
    public var actFn = "relu"
    public var upsampleFn = "nearest"

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", outChannels = "out_channels", latentChannels = "latent_channels"
        case encoderBlockOutChannels = "encoder_block_out_channels", decoderBlockOutChannels = "decoder_block_out_channels"
        case numEncoderBlocks = "num_encoder_blocks", numDecoderBlocks = "num_decoder_blocks"
        case upsamplingScalingFactor = "upsampling_scaling_factor", scalingFactor = "scaling_factor"
        case actFn = "act_fn", upsampleFn = "upsample_fn"
    }

    /// TAESD for SD 1.x, as diffusers' defaults and the original files have it.
    public init() {}

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = TinyAutoencoderConfiguration()
        inChannels = try c.value(.inChannels, default: d.inChannels)
        outChannels = try c.value(.outChannels, default: d.outChannels)
        latentChannels = try c.value(.latentChannels, default: d.latentChannels)
        encoderBlockOutChannels = try c.value(.encoderBlockOutChannels, default: d.encoderBlockOutChannels)
        decoderBlockOutChannels = try c.value(.decoderBlockOutChannels, default: d.decoderBlockOutChannels)
        numEncoderBlocks = try c.value(.numEncoderBlocks, default: d.numEncoderBlocks)
        numDecoderBlocks = try c.value(.numDecoderBlocks, default: d.numDecoderBlocks)
        upsamplingScalingFactor = try c.value(.upsamplingScalingFactor, default: d.upsamplingScalingFactor)
        scalingFactor = try c.value(.scalingFactor, default: d.scalingFactor)
        actFn = try c.value(.actFn, default: d.actFn)
        upsampleFn = try c.value(.upsampleFn, default: d.upsampleFn)
        try validate()
    }

    /// Pixels per latent pixel: the decoder upsamples between its stages.
    public var downsamplingFactor: Int {
        Int(pow(Double(upsamplingScalingFactor), Double(max(numDecoderBlocks.count - 1, 0))))
    }

    /// Checks the combinations this implementation runs.
    public func validate() throws {
        func fail(_ key: String, _ value: String, _ reason: String) -> ConfigurationError {
            .unsupported(file: "", key: key, value: value, reason: reason)
        }
        guard !encoderBlockOutChannels.isEmpty, encoderBlockOutChannels.count == numEncoderBlocks.count else {
            throw fail("num_encoder_blocks", "\(numEncoderBlocks)", "needs one entry per encoder_block_out_channels entry")
        }
        guard !decoderBlockOutChannels.isEmpty, decoderBlockOutChannels.count == numDecoderBlocks.count else {
            throw fail("num_decoder_blocks", "\(numDecoderBlocks)", "needs one entry per decoder_block_out_channels entry")
        }
        // Between stages the channel count stays (diffusers' stage convolutions map a stage's width to itself).
        guard Set(encoderBlockOutChannels).count == 1 else {
            throw fail("encoder_block_out_channels", "\(encoderBlockOutChannels)", "every stage must have the same width")
        }
        guard Set(decoderBlockOutChannels).count == 1 else {
            throw fail("decoder_block_out_channels", "\(decoderBlockOutChannels)", "every stage must have the same width")
        }
        guard actFn == "relu" else { throw fail("act_fn", actFn, "TAESD uses relu") }
        guard upsampleFn == "nearest" else { throw fail("upsample_fn", upsampleFn, "only nearest upsampling is implemented") }
        guard upsamplingScalingFactor >= 1 else {
            throw fail("upsampling_scaling_factor", "\(upsamplingScalingFactor)", "must be a positive integer")
        }
        guard scalingFactor > 0 else { throw fail("scaling_factor", "\(scalingFactor)", "must be positive") }
    }
}
