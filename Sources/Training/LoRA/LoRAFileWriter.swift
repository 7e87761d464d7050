// The files a LoRA run writes into output_dir:
//   • pytorch_lora_weights.safetensors — diffusers' layout as load_lora_weights reads it: peft's keys
//     with the network's prefix ("unet.<module>.lora_A.weight", "text_encoder.text_model.<module>…"),
//     and diffusers' lora_adapter_metadata header entry (r, lora_alpha, target_modules per network),
//     so that an alpha other than the rank loads at its scale;
//   • <output_dir name>.safetensors — the kohya / A1111 / ComfyUI layout ("lora_unet_<module, _ for .>",
//     "lora_te_text_model_…", .lora_down.weight / .lora_up.weight / .alpha), named as kohya's trainer
//     names its output, ready to drop into A1111's models/Lora (or dbrenderd's --lora-dir).
// Both hold the same factors, stored at `save_precision`, written atomically.
import Foundation
import Tensor
import Weights

enum LoRAFileWriter {
    static let diffusersFileName = "pytorch_lora_weights.safetensors"

    /// The diffusers file's tensors and metadata.
    static func diffusersLayout(unet: TrainableLoRA, textEncoder: TrainableLoRA?,
                                unetTargets: [String], textEncoderTargets: [String]) -> (tensors: [(name: String, tensor: Tensor)], metadata: [String: String]) {
        var tensors: [(name: String, tensor: Tensor)] = []
        var config: [String: Any] = ["unet.r": unet.rank, "unet.lora_alpha": unet.alpha, "unet.target_modules": unetTargets]
        for (module, update) in unet.updates {
            tensors += [("unet.\(module).lora_A.weight", update.down), ("unet.\(module).lora_B.weight", update.up)]
        }
        if let textEncoder {
            config.merge(["text_encoder.r": textEncoder.rank, "text_encoder.lora_alpha": textEncoder.alpha,
                          "text_encoder.target_modules": textEncoderTargets]) { $1 }
            for (module, update) in textEncoder.updates {
                // transformers' module names: the encoder's layers sit under text_model.
                tensors += [("text_encoder.text_model.\(module).lora_A.weight", update.down),
                            ("text_encoder.text_model.\(module).lora_B.weight", update.up)]
            }
        }
        let json = (try? JSONSerialization.data(withJSONObject: config, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
        return (tensors, ["lora_adapter_metadata": json, "format": "pt"])
    }

    /// The kohya file's tensors.
    static func kohyaLayout(unet: TrainableLoRA, textEncoder: TrainableLoRA?) -> [(name: String, tensor: Tensor)] {
        var tensors: [(name: String, tensor: Tensor)] = []
        for (lora, prefix, component) in [(unet, "lora_unet_", LoRAComponent.unet)] + (textEncoder.map { [($0, "lora_te_", .textEncoder)] } ?? []) {
            for (module, update) in lora.updates {
                let name = prefix + LoRATargets.kohyaName(module, component)
                tensors += [("\(name).lora_down.weight", update.down), ("\(name).lora_up.weight", update.up),
                            ("\(name).alpha", Tensor(shape: [], values: [Float(lora.alpha)]))]
            }
        }
        return tensors
    }

    /// Writes both files into `directory`; returns their URLs (diffusers', kohya's).
    static func write(unet: TrainableLoRA, textEncoder: TrainableLoRA?, unetTargets: [String], textEncoderTargets: [String],
                      to directory: URL, dtype: SafetensorsDType) throws -> (diffusers: URL, kohya: URL) {
        let diffusers = diffusersLayout(unet: unet, textEncoder: textEncoder, unetTargets: unetTargets, textEncoderTargets: textEncoderTargets)
        let diffusersURL = directory.appendingPathComponent(diffusersFileName)
        try SafetensorsWriter.write(diffusers.tensors, metadata: diffusers.metadata, to: diffusersURL, dtype: dtype)
        let kohyaURL = directory.appendingPathComponent(directory.standardizedFileURL.lastPathComponent + ".safetensors")
        try SafetensorsWriter.write(kohyaLayout(unet: unet, textEncoder: textEncoder), metadata: ["ss_network_dim": "\(unet.rank)",
                                    "ss_network_alpha": "\(unet.alpha)", "ss_network_module": "networks.lora"], to: kohyaURL, dtype: dtype)
        return (diffusersURL, kohyaURL)
    }
}
