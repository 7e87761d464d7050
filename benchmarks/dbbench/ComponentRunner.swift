// Runs the three networks of a model folder on inputs from a safetensors file and writes their
// outputs: the Swift half of benchmarks/full_size_check.py (parity at full SD 1.5 size).
import Foundation
import Models
import Tensor
import Weights

enum ComponentRunner {
    /// Inputs: `ids` [B, 77] (token ids as floats), `sample` [B, 4, h, w], `timesteps` [B],
    /// `latents` [1, 4, h, w]. Outputs: `text`, `unet`, `decoded`, and the encoder's `mean`/`logvar`
    /// of `image` [1, 3, H, W] when present.
    static func run(modelPath: String, inputsPath: String, outputPath: String) throws {
        let checkpoint = try ModelCheckpoint.open(URL(fileURLWithPath: modelPath))
        let c = checkpoint.configurations
        let inputs = try SafetensorsFile(contentsOf: URL(fileURLWithPath: inputsPath))
        var outputs: [(name: String, tensor: Tensor)] = []

        let text = try CLIPTextEncoder(configuration: c.textEncoder, parameters: checkpoint.source(.textEncoder))
        let idTensor = try inputs.tensor("ids")
        let ids = (0..<idTensor.shape[0]).map { b in (0..<idTensor.shape[1]).map { Int(idTensor[[b, $0]]) } }
        let context = text(ids)
        outputs.append(("text", context))

        let unet = try UNet2DCondition(configuration: c.unet, parameters: checkpoint.source(.unet))
        let start = Date()
        outputs.append(("unet", unet(try inputs.tensor("sample"), timesteps: try inputs.tensor("timesteps").scalars, context: context)))
        FileHandle.standardError.write("UNet forward: \(String(format: "%.2f", Date().timeIntervalSince(start))) s\n".data(using: .utf8)!)

        let vae = try AutoencoderKL(configuration: c.vae, parameters: checkpoint.source(.vae))
        outputs.append(("decoded", vae.decode(try inputs.tensor("latents"))))
        if inputs.entries["image"] != nil {
            let (mean, logVariance) = vae.encode(try inputs.tensor("image"))
            outputs.append(("mean", mean))
            outputs.append(("logvar", logVariance))
        }
        try SafetensorsWriter.write(outputs, to: URL(fileURLWithPath: outputPath))
    }
}
