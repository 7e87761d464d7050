// The architecture of `models/shapes`, the demo model trained from nothing on the shapes world
// (`dbtrain make-shapes`): SD 1.x's structure at a size that trains on two CPU cores in about an hour.
//   • VAE: three encoder blocks, so 64 px images become 16×16×4 latents (4×, not SD's 8×: a star's
//     points must survive the round trip at 64 px);
//   • UNet: three levels (16×16, 8×8, 4×4), cross-attention at the first two, as SD's blocks are;
//   • text encoder: CLIP's architecture and real BPE vocabulary, 3 layers of width 128.
// The sizes were chosen by trial runs on the shapes data (see models/shapes/README.md).

extension UNetConfiguration {
    /// The shapes model's UNet (5.9 M parameters).
    public static let shapes = UNetConfiguration(
        sampleSize: 16,
        downBlockTypes: ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
        upBlockTypes: ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
        blockOutChannels: [64, 128, 128], layersPerBlock: 1, normNumGroups: 16, crossAttentionDim: 128,
        attentionHeadDim: .same(4))
}

extension AutoencoderConfiguration {
    /// The shapes model's VAE (0.95 M parameters). `dbtrain train-vae` replaces the scaling factor by
    /// the one its latents need.
    public static let shapes = AutoencoderConfiguration(blockOutChannels: [32, 64, 64], layersPerBlock: 1, normNumGroups: 16, sampleSize: 64)
}

extension CLIPTextConfiguration {
    /// The shapes model's text encoder (6.9 M parameters, 6.3 M of them the 49 408-token embedding).
    public static let shapes = CLIPTextConfiguration(hiddenSize: 128, intermediateSize: 512, numHiddenLayers: 3, numAttentionHeads: 4, projectionDim: 128)
}

extension ModelConfigurations {
    public static let shapes = ModelConfigurations(unet: .shapes, vae: .shapes, textEncoder: .shapes)
}
