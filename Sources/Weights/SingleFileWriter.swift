// Writes an opened model as ONE original-layout (LDM / CompVis) `.safetensors` file — the format
// A1111, ComfyUI and civitai use — through the same key table that reads such files
// (`CheckpointLayout`), so that what we write reads back to the same tensors. The one change of
// shape the layout asks for: the VAE's mid-block attention projections are 1×1 convolutions there
// ([C, C, 1, 1]) where diffusers has linear layers ([C, C]).
import Foundation
import Tensor

public enum SingleFileWriter {
    /// Writes every tensor of `checkpoint`'s three networks to `url` (atomically) in `dtype`.
    /// - Returns: the number of tensors written.
    @discardableResult
    public static func write(_ checkpoint: ModelCheckpoint, to url: URL, dtype: SafetensorsDType = .f32) throws -> Int {
        let c = checkpoint.configurations
        let layout = CheckpointLayout(unet: c.unet, vae: c.vae)
        var tensors: [(name: String, tensor: Tensor)] = []
        for component in ModelComponent.allCases {
            let source = checkpoint.source(component)
            for key in source.keys {
                guard let original = layout.originalKey(forDiffusers: key, component: component) else {
                    throw ModelLoadingError.unknownArchitecture(
                        file: checkpoint.url.path, reason: "\(component.rawValue) tensor '\(key)' has no original-layout name")
                }
                var tensor = try source.storedTensor(key)
                if component == .vae, original.contains(".mid.attn_1."), original.hasSuffix(".weight"), tensor.rank == 2 {
                    tensor = tensor.reshaped(tensor.shape + [1, 1])
                }
                tensors.append((original, tensor))
            }
        }
        try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: url, dtype: dtype)
        return tensors.count
    }
}
