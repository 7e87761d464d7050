// diffusers' AutoencoderTiny (TAESD): a VAE distilled to plain 3×3 convolutions and ReLUs, about
// 1/25 of the SD VAE decoder's work, for live previews and fast final images.
//   decoder: z → 3·tanh(z/3) → conv → ReLU → per stage: blocks, then (all stages but the last)
//            nearest upsample ×f and a bias-free conv → final conv (with bias) → ·2 − 1
//   encoder: x ∈ [−1, 1] → (x + 1)/2 → per stage: a conv (stride 2 and bias-free after the first
//            stage), then blocks → final conv to the latents
//   block:   ReLU(conv(ReLU(conv(ReLU(conv(x))))) + skip(x)), skip a bias-free 1×1 conv when the
//            width changes, else identity
// Parameter keys are diffusers' `encoder.layers.N…` / `decoder.layers.N…`, N counting every module
// of the nn.Sequential (activations and upsamplers included); TinyAutoencoderCheckpoint maps the
// original single files onto them. Forward only: TAESD is brought, not trained here.
import Tensor
import Weights

/// TAESD: an encoder and a decoder, either of which a weights file may lack.
public struct AutoencoderTiny: Sendable {
    public let configuration: TinyAutoencoderConfiguration
    public let encoder: TinyEncoder?
    public let decoder: TinyDecoder?

    public init(configuration c: TinyAutoencoderConfiguration, parameters source: ParameterSource,
                encoder hasEncoder: Bool = true, decoder hasDecoder: Bool = true) throws {
        try c.validate()
        configuration = c
        encoder = hasEncoder ? try TinyEncoder(source, configuration: c) : nil
        decoder = hasDecoder ? try TinyDecoder(source, configuration: c) : nil
    }

    /// Loads a TAESD folder or file (see TinyAutoencoderCheckpoint), with the halves it holds.
    public init(checkpoint: TinyAutoencoderCheckpoint) throws {
        try self.init(configuration: checkpoint.configuration, parameters: checkpoint.source,
                      encoder: checkpoint.hasEncoder, decoder: checkpoint.hasDecoder)
    }
}

/// One residual block of plain convolutions.
public struct TinyAutoencoderBlock: Sendable {
    let convolutions: [Conv2dLayer]  // conv.0, conv.2, conv.4
    let skip: Conv2dLayer?

    init(_ source: ParameterSource, _ prefix: String, in inChannels: Int, out outChannels: Int) throws {
        convolutions = try [0, 2, 4].map { i in
            try Conv2dLayer(source, "\(prefix).conv.\(i)", in: i == 0 ? inChannels : outChannels, out: outChannels, kernel: 3, padding: 1)
        }
        skip = inChannels == outChannels ? nil
            : try Conv2dLayer(source, "\(prefix).skip", in: inChannels, out: outChannels, kernel: 1, bias: false)
    }

    func callAsFunction(_ x: Tensor) -> Tensor {
        var h = convolutions[0](x)
        ReLU.forwardInPlace(h)
        h = convolutions[1](h)
        ReLU.forwardInPlace(h)
        h = convolutions[2](h)
        Add.accumulate(skip.map { $0(x) } ?? x, into: h)
        ReLU.forwardInPlace(h)
        return h
    }
}

/// A step of a TAESD half: the nn.Sequential's modules that carry work.
enum TinyAutoencoderStep: Sendable {
    case convolution(Conv2dLayer)
    case relu
    case block(TinyAutoencoderBlock)
    case upsample(factor: Int)

    func callAsFunction(_ x: Tensor) -> Tensor {
        switch self {
        case .convolution(let conv): return conv(x)
        case .relu: ReLU.forwardInPlace(x); return x
        case .block(let block): return block(x)
        case .upsample(let f): return NearestResize.forward(x, height: x.shape[2] * f, width: x.shape[3] * f)
        }
    }
}

/// Builds a Sequential's steps, numbering them as PyTorch numbers its modules.
private struct SequentialBuilder {
    let source: ParameterSource
    let prefix: String
    var steps: [TinyAutoencoderStep] = []

    private var nextKey: String { "\(prefix).layers.\(steps.count)" }

    mutating func convolution(in i: Int, out o: Int, stride: Int = 1, bias: Bool = true) throws {
        steps.append(.convolution(try Conv2dLayer(source, nextKey, in: i, out: o, kernel: 3, stride: stride, padding: 1, bias: bias)))
    }

    mutating func block(channels: Int) throws {
        steps.append(.block(try TinyAutoencoderBlock(source, nextKey, in: channels, out: channels)))
    }

    mutating func append(_ step: TinyAutoencoderStep) { steps.append(step) }
}

/// TAESD's decoder: latents [B, L, h, w] → images [B, 3, h·f, w·f] in about [−1, 1].
public struct TinyDecoder: Sendable {
    let steps: [TinyAutoencoderStep]

    init(_ source: ParameterSource, configuration c: TinyAutoencoderConfiguration) throws {
        var b = SequentialBuilder(source: source, prefix: "decoder")
        let width = c.decoderBlockOutChannels[0]
        try b.convolution(in: c.latentChannels, out: width)
        b.append(.relu)
        for (stage, count) in c.numDecoderBlocks.enumerated() {
            for _ in 0..<count { try b.block(channels: width) }
            let last = stage == c.numDecoderBlocks.count - 1
            if !last { b.append(.upsample(factor: c.upsamplingScalingFactor)) }
            try b.convolution(in: width, out: last ? c.outChannels : width, bias: last)
        }
        steps = b.steps
    }

    /// Images from latents already divided by the configuration's scaling factor.
    public func callAsFunction(_ latents: Tensor) -> Tensor {
        let y = steps.reduce(SoftClamp.forward(latents, limit: 3)) { x, step in step(x) }
        for i in 0..<y.count { y.pointer[i] = y.pointer[i] * 2 - 1 }
        return y
    }
}

/// TAESD's encoder: images [B, 3, H, W] in [−1, 1] → latents [B, L, H/f, W/f].
public struct TinyEncoder: Sendable {
    let steps: [TinyAutoencoderStep]

    init(_ source: ParameterSource, configuration c: TinyAutoencoderConfiguration) throws {
        var b = SequentialBuilder(source: source, prefix: "encoder")
        let width = c.encoderBlockOutChannels[0]
        for (stage, count) in c.numEncoderBlocks.enumerated() {
            // diffusers' EncoderTiny halves the size at each stage whatever the decoder's factor.
            if stage == 0 { try b.convolution(in: c.inChannels, out: width) } else {
                try b.convolution(in: width, out: width, stride: 2, bias: false)
            }
            for _ in 0..<count { try b.block(channels: width) }
        }
        try b.convolution(in: width, out: c.latentChannels)
        steps = b.steps
    }

    public func callAsFunction(_ images: Tensor) -> Tensor {
        let unit = Tensor(uninitialized: images.shape)
        for i in 0..<images.count { unit.pointer[i] = (images.pointer[i] + 1) / 2 }
        return steps.reduce(unit) { x, step in step(x) }
    }
}
