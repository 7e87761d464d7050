// THE table between checkpoint key layouts: diffusers (what our module tree is named after) and the
// original LDM / CompVis single-file layout (`model.diffusion_model.*`, `first_stage_model.*`,
// `cond_stage_model.transformer.*`). No other file knows a checkpoint key string.
//
// Facts from diffusers' single-file conversion and stable-diffusion.cpp's name_conversion.cpp:
// UNet input_blocks / middle_block / output_blocks are numbered sequentially (resnet at .0,
// attention at .1, the down/up sampler after the block's layers); resnet sublayers are
// in_layers.0/.2, emb_layers.1, out_layers.0/.3, skip_connection; the VAE decoder's `up.i` runs in
// the opposite order of diffusers' `up_blocks.i`; the VAE mid attention uses q/k/v/proj_out as
// 1×1 convolutions where diffusers has linear layers (same values, shape [C, C, 1, 1]).

/// The three networks of an SD 1.x checkpoint.
public enum ModelComponent: String, CaseIterable, Sendable {
    case unet
    case vae
    case textEncoder = "text_encoder"
}

/// Renames between the diffusers layout and the original single-file layout.
public struct CheckpointLayout: Sendable {
    /// Original module prefix → (component, diffusers module prefix), for every module that is
    /// renamed as a whole; sublayer renames inside resnets and VAE attention are in `innerRenames`.
    private let modulePrefixes: [(original: String, component: ModelComponent, diffusers: String, inner: InnerRenames)]

    /// Sublayer names that differ inside a renamed module (original → diffusers).
    enum InnerRenames: Sendable {
        case none
        case unetResnet
        case vaeResnet
        case vaeAttention
        var pairs: [(String, String)] {
            switch self {
            case .none: []
            case .unetResnet: [("in_layers.0", "norm1"), ("in_layers.2", "conv1"), ("emb_layers.1", "time_emb_proj"),
                               ("out_layers.0", "norm2"), ("out_layers.3", "conv2"), ("skip_connection", "conv_shortcut")]
            case .vaeResnet: [("nin_shortcut", "conv_shortcut")]
            case .vaeAttention: [("norm", "group_norm"), ("q", "to_q"), ("k", "to_k"), ("v", "to_v"), ("proj_out", "to_out.0")]
            }
        }
    }

    static let unetPrefix = "model.diffusion_model."
    static let vaePrefix = "first_stage_model."
    static let textEncoderPrefix = "cond_stage_model.transformer."

    /// Builds the table for a UNet and VAE of the given structure (the LDM numbering depends on
    /// layers per block and on which blocks have attention).
    public init(unet: UNetConfiguration, vae: AutoencoderConfiguration) {
        var p: [(String, ModelComponent, String, InnerRenames)] = []
        func u(_ original: String, _ diffusers: String, _ inner: InnerRenames = .none) {
            p.append((Self.unetPrefix + original, .unet, diffusers, inner))
        }
        func v(_ original: String, _ diffusers: String, _ inner: InnerRenames = .none) {
            p.append((Self.vaePrefix + original, .vae, diffusers, inner))
        }

        // UNet
        let blocks = unet.blockOutChannels.count, layers = unet.layersPerBlock
        u("time_embed.0", "time_embedding.linear_1")
        u("time_embed.2", "time_embedding.linear_2")
        u("input_blocks.0.0", "conv_in")
        for b in 0..<blocks {
            let hasAttention = unet.downBlockTypes[b] == "CrossAttnDownBlock2D"
            for l in 0..<layers {
                let i = 1 + b * (layers + 1) + l
                u("input_blocks.\(i).0", "down_blocks.\(b).resnets.\(l)", .unetResnet)
                if hasAttention { u("input_blocks.\(i).1", "down_blocks.\(b).attentions.\(l)") }
            }
            if b < blocks - 1 {
                u("input_blocks.\(1 + b * (layers + 1) + layers).0.op", "down_blocks.\(b).downsamplers.0.conv")
            }
        }
        u("middle_block.0", "mid_block.resnets.0", .unetResnet)
        u("middle_block.1", "mid_block.attentions.0")
        u("middle_block.2", "mid_block.resnets.1", .unetResnet)
        for b in 0..<blocks {
            let hasAttention = unet.upBlockTypes[b] == "CrossAttnUpBlock2D"
            for l in 0...layers {
                let i = b * (layers + 1) + l
                u("output_blocks.\(i).0", "up_blocks.\(b).resnets.\(l)", .unetResnet)
                if hasAttention { u("output_blocks.\(i).1", "up_blocks.\(b).attentions.\(l)") }
                if b < blocks - 1 && l == layers {
                    u("output_blocks.\(i).\(hasAttention ? 2 : 1).conv", "up_blocks.\(b).upsamplers.0.conv")
                }
            }
        }
        u("out.0", "conv_norm_out")
        u("out.2", "conv_out")

        // VAE
        let vaeBlocks = vae.blockOutChannels.count, vaeLayers = vae.layersPerBlock
        for side in ["encoder", "decoder"] {
            v("\(side).conv_in", "\(side).conv_in")
            v("\(side).norm_out", "\(side).conv_norm_out")
            v("\(side).conv_out", "\(side).conv_out")
            v("\(side).mid.block_1", "\(side).mid_block.resnets.0", .vaeResnet)
            v("\(side).mid.attn_1", "\(side).mid_block.attentions.0", .vaeAttention)
            v("\(side).mid.block_2", "\(side).mid_block.resnets.1", .vaeResnet)
        }
        for b in 0..<vaeBlocks {
            for l in 0..<vaeLayers {
                v("encoder.down.\(b).block.\(l)", "encoder.down_blocks.\(b).resnets.\(l)", .vaeResnet)
            }
            if b < vaeBlocks - 1 { v("encoder.down.\(b).downsample.conv", "encoder.down_blocks.\(b).downsamplers.0.conv") }
            let original = vaeBlocks - 1 - b
            for l in 0...vaeLayers {
                v("decoder.up.\(original).block.\(l)", "decoder.up_blocks.\(b).resnets.\(l)", .vaeResnet)
            }
            if b < vaeBlocks - 1 { v("decoder.up.\(original).upsample.conv", "decoder.up_blocks.\(b).upsamplers.0.conv") }
        }
        v("quant_conv", "quant_conv")
        v("post_quant_conv", "post_quant_conv")

        // Longest original prefix first, so that "input_blocks.1.0" never matches "input_blocks.1.0x".
        modulePrefixes = p.sorted { $0.0.count > $1.0.count }.map { ($0.0, $0.1, $0.2, $0.3) }
    }

    /// The component and diffusers key of an original single-file key; nil for keys that belong to
    /// no component we load (EMA copies `model_ema.*`, optimizer state, `alphas_cumprod` buffers…).
    public func diffusersKey(forOriginal key: String) -> (component: ModelComponent, key: String)? {
        if key.hasPrefix(Self.textEncoderPrefix) {
            return (.textEncoder, Self.canonicalTextEncoderKey(String(key.dropFirst(Self.textEncoderPrefix.count))))
        }
        for entry in modulePrefixes where key.hasPrefix(entry.original) {
            let rest = key.dropFirst(entry.original.count)
            guard rest.first == "." else { continue }
            var sub = String(rest.dropFirst())
            for (from, to) in entry.inner.pairs where sub.hasPrefix(from + ".") {
                sub = to + sub.dropFirst(from.count)
                break
            }
            return (entry.component, entry.diffusers + "." + sub)
        }
        // Transformer blocks inside attentions keep their names; the attention prefix above already
        // handled them. Anything else under the UNet or VAE prefix is unknown.
        return nil
    }

    /// The original single-file key for a diffusers key of `component` (the inverse of
    /// `diffusersKey(forOriginal:)`), used to write single-file checkpoints.
    public func originalKey(forDiffusers key: String, component: ModelComponent) -> String? {
        if component == .textEncoder {
            return Self.textEncoderPrefix + "text_model." + Self.canonicalTextEncoderKey(key)
        }
        for entry in modulePrefixes.sorted(by: { $0.diffusers.count > $1.diffusers.count })
        where entry.component == component && key.hasPrefix(entry.diffusers + ".") {
            var sub = String(key.dropFirst(entry.diffusers.count + 1))
            for (from, to) in entry.inner.pairs where sub.hasPrefix(to + ".") {
                sub = from + sub.dropFirst(to.count)
                break
            }
            return entry.original + "." + sub
        }
        return nil
    }

    /// Text-encoder keys without the `text_model.` prefix, as transformers 5 saves them; SD 1.x
    /// folders in the wild (transformers 4) carry the prefix, and both load.
    public static func canonicalTextEncoderKey(_ key: String) -> String {
        key.hasPrefix("text_model.") ? String(key.dropFirst("text_model.".count)) : key
    }
}
