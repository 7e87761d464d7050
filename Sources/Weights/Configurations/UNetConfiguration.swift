// `unet/config.json` of diffusers' UNet2DConditionModel, restricted to what SD 1.x uses, with the
// `sd15` and `tiny` presets. Keys absent from a file take diffusers' defaults.
import Foundation

/// Configuration of a UNet2DConditionModel (SD 1.x family).
public struct UNetConfiguration: Codable, Equatable, Sendable {
    public var sampleSize: Int
    public var inChannels: Int
    public var outChannels: Int
    public var flipSinToCos: Bool
    public var freqShift: Int
    public var downBlockTypes: [String]
    public var midBlockType: String?
    public var upBlockTypes: [String]
    public var blockOutChannels: [Int]
    public var layersPerBlock: Int
    public var downsamplePadding: Int
    public var midBlockScaleFactor: Float
    public var actFn: String
    public var normNumGroups: Int
    public var normEps: Float
    public var crossAttentionDim: Int
    /// Heads per block. diffusers calls this `attention_head_dim` in SD 1.x configs, but uses it as
    /// the number of heads (`num_attention_heads = num_attention_heads or attention_head_dim`).
    public var attentionHeadDim: PerBlock<Int>
    public var numAttentionHeads: PerBlock<Int>?
    public var transformerLayersPerBlock: PerBlock<Int>
    public var useLinearProjection: Bool
    public var upcastAttention: Bool
    public var onlyCrossAttention: Bool
    public var centerInputSample: Bool

    enum CodingKeys: String, CodingKey {
        case sampleSize = "sample_size", inChannels = "in_channels", outChannels = "out_channels"
        case flipSinToCos = "flip_sin_to_cos", freqShift = "freq_shift"
        case downBlockTypes = "down_block_types", midBlockType = "mid_block_type", upBlockTypes = "up_block_types"
        case blockOutChannels = "block_out_channels", layersPerBlock = "layers_per_block"
        case downsamplePadding = "downsample_padding", midBlockScaleFactor = "mid_block_scale_factor"
        case actFn = "act_fn", normNumGroups = "norm_num_groups", normEps = "norm_eps"
        case crossAttentionDim = "cross_attention_dim", attentionHeadDim = "attention_head_dim"
        case numAttentionHeads = "num_attention_heads", transformerLayersPerBlock = "transformer_layers_per_block"
        case useLinearProjection = "use_linear_projection", upcastAttention = "upcast_attention"
        case onlyCrossAttention = "only_cross_attention", centerInputSample = "center_input_sample"
        // Keys that select architectures we do not run; read only to reject them.
        case classEmbedType = "class_embed_type", additionEmbedType = "addition_embed_type"
        case numClassEmbeds = "num_class_embeds", timeCondProjDim = "time_cond_proj_dim"
        case resnetTimeScaleShift = "resnet_time_scale_shift", timeEmbeddingType = "time_embedding_type"
        case encoderHidDim = "encoder_hid_dim", dualCrossAttention = "dual_cross_attention"
        case convInKernel = "conv_in_kernel", convOutKernel = "conv_out_kernel"
        case attentionType = "attention_type"
        case className = "_class_name"
    }

    public init(
        sampleSize: Int, inChannels: Int = 4, outChannels: Int = 4,
        downBlockTypes: [String], upBlockTypes: [String], blockOutChannels: [Int],
        layersPerBlock: Int = 2, normNumGroups: Int = 32, crossAttentionDim: Int,
        attentionHeadDim: PerBlock<Int>, useLinearProjection: Bool = false
    ) {
        self.sampleSize = sampleSize; self.inChannels = inChannels; self.outChannels = outChannels
        flipSinToCos = true; freqShift = 0
        self.downBlockTypes = downBlockTypes; midBlockType = "UNetMidBlock2DCrossAttn"; self.upBlockTypes = upBlockTypes
        self.blockOutChannels = blockOutChannels; self.layersPerBlock = layersPerBlock
        downsamplePadding = 1; midBlockScaleFactor = 1; actFn = "silu"
        self.normNumGroups = normNumGroups; normEps = 1e-5
        self.crossAttentionDim = crossAttentionDim; self.attentionHeadDim = attentionHeadDim
        numAttentionHeads = nil; transformerLayersPerBlock = .same(1)
        self.useLinearProjection = useLinearProjection; upcastAttention = false
        onlyCrossAttention = false; centerInputSample = false
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        sampleSize = try c.value(.sampleSize, default: 64)
        inChannels = try c.value(.inChannels, default: 4)
        outChannels = try c.value(.outChannels, default: 4)
        flipSinToCos = try c.value(.flipSinToCos, default: true)
        freqShift = try c.value(.freqShift, default: 0)
        downBlockTypes = try c.value(.downBlockTypes, default: ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"])
        midBlockType = try c.value(.midBlockType, default: "UNetMidBlock2DCrossAttn")
        upBlockTypes = try c.value(.upBlockTypes, default: ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"])
        blockOutChannels = try c.value(.blockOutChannels, default: [320, 640, 1280, 1280])
        layersPerBlock = try c.value(.layersPerBlock, default: 2)
        downsamplePadding = try c.value(.downsamplePadding, default: 1)
        midBlockScaleFactor = try c.value(.midBlockScaleFactor, default: 1)
        actFn = try c.value(.actFn, default: "silu")
        normNumGroups = try c.value(.normNumGroups, default: 32)
        normEps = try c.value(.normEps, default: 1e-5)
        crossAttentionDim = try c.value(.crossAttentionDim, default: 1280)
        attentionHeadDim = try c.value(.attentionHeadDim, default: .same(8))
        numAttentionHeads = try c.decodeIfPresent(PerBlock<Int>.self, forKey: .numAttentionHeads)
        transformerLayersPerBlock = try c.value(.transformerLayersPerBlock, default: .same(1))
        useLinearProjection = try c.value(.useLinearProjection, default: false)
        upcastAttention = try c.value(.upcastAttention, default: false)
        onlyCrossAttention = try c.value(.onlyCrossAttention, default: false)
        centerInputSample = try c.value(.centerInputSample, default: false)

        func reject(_ key: CodingKeys, _ reason: String) throws {
            if let v = try? c.decodeIfPresent(String.self, forKey: key) {
                throw ConfigurationError.unsupported(file: "", key: key.stringValue, value: v, reason: reason)
            }
            if let v = try? c.decodeIfPresent(Int.self, forKey: key) {
                throw ConfigurationError.unsupported(file: "", key: key.stringValue, value: "\(v)", reason: reason)
            }
        }
        try reject(.classEmbedType, "class-conditioned UNets are not SD 1.x")
        try reject(.additionEmbedType, "added conditioning (SDXL) is not SD 1.x")
        try reject(.numClassEmbeds, "class-conditioned UNets are not SD 1.x")
        try reject(.timeCondProjDim, "LCM timestep conditioning is not supported")
        try reject(.encoderHidDim, "encoder hidden projections are not SD 1.x")
        if let shift = try c.decodeIfPresent(String.self, forKey: .resnetTimeScaleShift), shift != "default" {
            throw ConfigurationError.unsupported(file: "", key: "resnet_time_scale_shift", value: shift, reason: "only \"default\" is SD 1.x")
        }
        if let type = try c.decodeIfPresent(String.self, forKey: .timeEmbeddingType), type != "positional" {
            throw ConfigurationError.unsupported(file: "", key: "time_embedding_type", value: type, reason: "only \"positional\" is SD 1.x")
        }
        if try c.decodeIfPresent(Bool.self, forKey: .dualCrossAttention) == true {
            throw ConfigurationError.unsupported(file: "", key: "dual_cross_attention", value: "true", reason: "not SD 1.x")
        }
        for key in [CodingKeys.convInKernel, .convOutKernel] {
            if let k = try c.decodeIfPresent(Int.self, forKey: key), k != 3 {
                throw ConfigurationError.unsupported(file: "", key: key.stringValue, value: "\(k)", reason: "only 3×3 is SD 1.x")
            }
        }
        if let type = try c.decodeIfPresent(String.self, forKey: .attentionType), type != "default" {
            throw ConfigurationError.unsupported(file: "", key: "attention_type", value: type, reason: "only \"default\" is SD 1.x")
        }
        try validate()
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode("UNet2DConditionModel", forKey: .className)
        try c.encode(sampleSize, forKey: .sampleSize); try c.encode(inChannels, forKey: .inChannels)
        try c.encode(outChannels, forKey: .outChannels); try c.encode(flipSinToCos, forKey: .flipSinToCos)
        try c.encode(freqShift, forKey: .freqShift); try c.encode(downBlockTypes, forKey: .downBlockTypes)
        try c.encode(midBlockType, forKey: .midBlockType); try c.encode(upBlockTypes, forKey: .upBlockTypes)
        try c.encode(blockOutChannels, forKey: .blockOutChannels); try c.encode(layersPerBlock, forKey: .layersPerBlock)
        try c.encode(downsamplePadding, forKey: .downsamplePadding); try c.encode(midBlockScaleFactor, forKey: .midBlockScaleFactor)
        try c.encode(actFn, forKey: .actFn); try c.encode(normNumGroups, forKey: .normNumGroups)
        try c.encode(normEps, forKey: .normEps); try c.encode(crossAttentionDim, forKey: .crossAttentionDim)
        try c.encode(attentionHeadDim, forKey: .attentionHeadDim)
        try c.encodeIfPresent(numAttentionHeads, forKey: .numAttentionHeads)
        try c.encode(transformerLayersPerBlock, forKey: .transformerLayersPerBlock)
        try c.encode(useLinearProjection, forKey: .useLinearProjection); try c.encode(upcastAttention, forKey: .upcastAttention)
        try c.encode(onlyCrossAttention, forKey: .onlyCrossAttention); try c.encode(centerInputSample, forKey: .centerInputSample)
    }

    /// Heads of the attention layers in down block `index` (diffusers' naming quirk resolved).
    public func heads(forBlock index: Int) -> Int {
        (numAttentionHeads ?? attentionHeadDim).value(forBlock: index)
    }

    /// Checks the combinations this implementation runs; throws `.unsupported` otherwise.
    public func validate() throws {
        let n = blockOutChannels.count
        func fail(_ key: String, _ value: String, _ reason: String) -> ConfigurationError {
            .unsupported(file: "", key: key, value: value, reason: reason)
        }
        guard n >= 1, downBlockTypes.count == n, upBlockTypes.count == n else {
            throw fail("block_out_channels", "\(blockOutChannels)", "needs one down and one up block type per entry")
        }
        for t in downBlockTypes where !["CrossAttnDownBlock2D", "DownBlock2D"].contains(t) {
            throw fail("down_block_types", t, "SD 1.x uses CrossAttnDownBlock2D and DownBlock2D")
        }
        for t in upBlockTypes where !["CrossAttnUpBlock2D", "UpBlock2D"].contains(t) {
            throw fail("up_block_types", t, "SD 1.x uses CrossAttnUpBlock2D and UpBlock2D")
        }
        if let mid = midBlockType, mid != "UNetMidBlock2DCrossAttn" {
            throw fail("mid_block_type", mid, "SD 1.x uses UNetMidBlock2DCrossAttn")
        }
        guard (numAttentionHeads ?? attentionHeadDim).values(count: n) != nil else {
            throw fail("attention_head_dim", "\((numAttentionHeads ?? attentionHeadDim))", "a list needs one entry per block")
        }
        guard transformerLayersPerBlock.values(count: n) != nil else {
            throw fail("transformer_layers_per_block", "\(transformerLayersPerBlock)", "a list needs one entry per block")
        }
        for (i, channels) in blockOutChannels.enumerated() {
            guard channels % normNumGroups == 0 else {
                throw fail("norm_num_groups", "\(normNumGroups)", "does not divide block_out_channels[\(i)] = \(channels)")
            }
            guard channels % heads(forBlock: i) == 0 else {
                throw fail("attention_head_dim", "\(heads(forBlock: i))", "does not divide block_out_channels[\(i)] = \(channels)")
            }
        }
        guard actFn == "silu" else { throw fail("act_fn", actFn, "SD 1.x uses silu") }
        guard !onlyCrossAttention else { throw fail("only_cross_attention", "true", "not SD 1.x") }
    }

    /// Stable Diffusion 1.5 (859.5 M parameters).
    public static let sd15 = UNetConfiguration(
        sampleSize: 64,
        downBlockTypes: ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
        upBlockTypes: ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
        blockOutChannels: [320, 640, 1280, 1280], crossAttentionDim: 768, attentionHeadDim: .same(8))

    /// A tiny UNet of the same structure, for tests and the shipped demo model.
    public static let tiny = UNetConfiguration(
        sampleSize: 8,
        downBlockTypes: ["CrossAttnDownBlock2D", "DownBlock2D"],
        upBlockTypes: ["UpBlock2D", "CrossAttnUpBlock2D"],
        blockOutChannels: [32, 64], layersPerBlock: 1, normNumGroups: 8, crossAttentionDim: 32,
        attentionHeadDim: .same(2))
}
