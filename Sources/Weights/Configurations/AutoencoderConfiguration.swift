// `vae/config.json` of diffusers' AutoencoderKL, with the `sd15` and `tiny` presets.
import Foundation

/// Configuration of an AutoencoderKL (the SD 1.x VAE).
public struct AutoencoderConfiguration: Codable, Equatable, Sendable {
    public var inChannels: Int
    public var outChannels: Int
    public var latentChannels: Int
    public var blockOutChannels: [Int]
    public var layersPerBlock: Int
    public var normNumGroups: Int
    public var sampleSize: Int
    /// Latents are divided by this before decoding (0.18215 for SD 1.x).
    public var scalingFactor: Float
    public var downBlockTypes: [String]
    public var upBlockTypes: [String]
    public var actFn: String
    public var midBlockAddAttention: Bool

    enum CodingKeys: String, CodingKey {
        case inChannels = "in_channels", outChannels = "out_channels", latentChannels = "latent_channels"
        case blockOutChannels = "block_out_channels", layersPerBlock = "layers_per_block"
        case normNumGroups = "norm_num_groups", sampleSize = "sample_size", scalingFactor = "scaling_factor"
        case downBlockTypes = "down_block_types", upBlockTypes = "up_block_types", actFn = "act_fn"
        case midBlockAddAttention = "mid_block_add_attention", className = "_class_name"
    }

    public init(blockOutChannels: [Int], layersPerBlock: Int = 2, normNumGroups: Int = 32, sampleSize: Int) {
        inChannels = 3; outChannels = 3; latentChannels = 4
        self.blockOutChannels = blockOutChannels; self.layersPerBlock = layersPerBlock
        self.normNumGroups = normNumGroups; self.sampleSize = sampleSize; scalingFactor = 0.18215
        downBlockTypes = Array(repeating: "DownEncoderBlock2D", count: blockOutChannels.count)
        upBlockTypes = Array(repeating: "UpDecoderBlock2D", count: blockOutChannels.count)
        actFn = "silu"; midBlockAddAttention = true
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        inChannels = try c.value(.inChannels, default: 3)
        outChannels = try c.value(.outChannels, default: 3)
        latentChannels = try c.value(.latentChannels, default: 4)
        blockOutChannels = try c.value(.blockOutChannels, default: [64])
        layersPerBlock = try c.value(.layersPerBlock, default: 1)
        normNumGroups = try c.value(.normNumGroups, default: 32)
        sampleSize = try c.value(.sampleSize, default: 32)
        scalingFactor = try c.value(.scalingFactor, default: 0.18215)
        downBlockTypes = try c.value(.downBlockTypes, default: Array(repeating: "DownEncoderBlock2D", count: blockOutChannels.count))
        upBlockTypes = try c.value(.upBlockTypes, default: Array(repeating: "UpDecoderBlock2D", count: blockOutChannels.count))
        actFn = try c.value(.actFn, default: "silu")
        midBlockAddAttention = try c.value(.midBlockAddAttention, default: true)
        try validate()
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("AutoencoderKL", forKey: .className)
        try c.encode(inChannels, forKey: .inChannels); try c.encode(outChannels, forKey: .outChannels)
        try c.encode(latentChannels, forKey: .latentChannels); try c.encode(blockOutChannels, forKey: .blockOutChannels)
        try c.encode(layersPerBlock, forKey: .layersPerBlock); try c.encode(normNumGroups, forKey: .normNumGroups)
        try c.encode(sampleSize, forKey: .sampleSize); try c.encode(scalingFactor, forKey: .scalingFactor)
        try c.encode(downBlockTypes, forKey: .downBlockTypes); try c.encode(upBlockTypes, forKey: .upBlockTypes)
        try c.encode(actFn, forKey: .actFn); try c.encode(midBlockAddAttention, forKey: .midBlockAddAttention)
    }

    /// Checks the combinations this implementation runs.
    public func validate() throws {
        func fail(_ key: String, _ value: String, _ reason: String) -> ConfigurationError {
            .unsupported(file: "", key: key, value: value, reason: reason)
        }
        guard !blockOutChannels.isEmpty else { throw fail("block_out_channels", "[]", "needs at least one block") }
        for t in downBlockTypes where t != "DownEncoderBlock2D" { throw fail("down_block_types", t, "SD 1.x uses DownEncoderBlock2D") }
        for t in upBlockTypes where t != "UpDecoderBlock2D" { throw fail("up_block_types", t, "SD 1.x uses UpDecoderBlock2D") }
        guard downBlockTypes.count == blockOutChannels.count, upBlockTypes.count == blockOutChannels.count else {
            throw fail("block_out_channels", "\(blockOutChannels)", "needs one down and one up block type per entry")
        }
        for c in blockOutChannels where c % normNumGroups != 0 {
            throw fail("norm_num_groups", "\(normNumGroups)", "does not divide \(c) channels")
        }
        guard actFn == "silu" else { throw fail("act_fn", actFn, "SD 1.x uses silu") }
    }

    /// The SD 1.x VAE (83.7 M parameters).
    public static let sd15 = AutoencoderConfiguration(blockOutChannels: [128, 256, 512, 512], sampleSize: 512)

    /// A tiny VAE of the same structure: four blocks, so latents are 8× smaller than images as in SD.
    public static let tiny = AutoencoderConfiguration(blockOutChannels: [32, 32, 64, 64], layersPerBlock: 1, normNumGroups: 8, sampleSize: 64)

    /// Image pixels per latent pixel along each axis: 2^(blocks − 1).
    public var downsamplingFactor: Int { 1 << (blockOutChannels.count - 1) }
}
