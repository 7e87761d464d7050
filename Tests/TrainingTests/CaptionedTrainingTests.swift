// Text-to-image training on captioned images (train_text_to_image.py's data keys): both folder
// layouts (metadata.jsonl and caption files), the errors that name the file and line, random_flip,
// the configuration rules, and a short run on a shapes-world folder whose model folder renders.
// The loss, noising and optimizer are the DreamBooth step's (golden-tested against diffusers in
// DreamBoothStepTests); the resize and crop are golden-tested in ImageResizeTests. What is new
// here is which image meets which caption, and the flip, which are checked exactly.
import Foundation
import ImageIO
import Models
import Sampling
import Tensor
import Testing
import TestSupport
import Weights
@testable import Training

@Suite("Training: captioned images (text-to-image)", .serialized)
struct CaptionedTrainingTests {
    static let tiny = Fixtures.packageRoot.appendingPathComponent("models/tiny")
    let tokenizer = try! CLIPTokenizer.standard()

    /// A fresh folder of `count` shapes-world images (metadata.jsonl and .txt captions).
    func shapesFolder(_ count: Int, side: Int = 64) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("captioned-\(UUID().uuidString.prefix(8))")
        try ShapesFolder.write(ShapesDataset(seed: 3), count: count, side: side, to: folder)
        return folder
    }

    @Test("metadata.jsonl and caption files give the same image–caption pairs, in order")
    func layouts() throws {
        let folder = try shapesFolder(6)
        defer { try? FileManager.default.removeItem(at: folder) }
        let transform = TrainingImageTransform(resolution: 64, centerCrop: true)
        let fromMetadata = try CaptionedImageDataset(directory: folder, transform: transform, randomFlip: false, tokenizer: tokenizer, seed: 1)
        let expected = (0..<6).map { ShapesDataset(seed: 3).caption(at: $0) }
        #expect(fromMetadata.count == 6 && fromMetadata.captionTexts == expected)
        #expect(fromMetadata.files.map(\.lastPathComponent) == (0..<6).map { String(format: "%05d.png", $0) })
        #expect(fromMetadata.captions.map(\.ids) == expected.map { tokenizer.tokenize($0).ids })
        try FileManager.default.removeItem(at: folder.appendingPathComponent("metadata.jsonl"))
        let fromTextFiles = try CaptionedImageDataset(directory: folder, transform: transform, randomFlip: false, tokenizer: tokenizer, seed: 1)
        #expect(fromTextFiles.captionTexts == expected && fromTextFiles.files == fromMetadata.files)
        // A batch holds the images of its indices with their own captions.
        let batch = try fromTextFiles.batch([4, 1], epoch: 0)
        #expect(batch.pixelValues.shape == [2, 3, 64, 64] && batch.instanceCount == 2)
        #expect(batch.tokenIDs == [fromTextFiles.captions[4].ids, fromTextFiles.captions[1].ids])
        let direct = ImageTensor.normalized(try DreamBoothDataset.load(fromTextFiles.files[4]))
        #expect(batch.pixelValues[0].scalars == direct.scalars, "centre crop of a 64 px image at 64 px is the image")
        // max_train_samples keeps the first examples.
        let firstThree = try CaptionedImageDataset(directory: folder, maxSamples: 3, transform: transform, randomFlip: false,
                                                   tokenizer: tokenizer, seed: 1)
        #expect(firstThree.captionTexts == Array(expected.prefix(3)))
    }

    @Test("random_flip mirrors about half the images, the same ones for the same seed and epoch")
    func randomFlip() throws {
        let folder = try shapesFolder(40)
        defer { try? FileManager.default.removeItem(at: folder) }
        let transform = TrainingImageTransform(resolution: 64, centerCrop: true)
        let flipping = try CaptionedImageDataset(directory: folder, transform: transform, randomFlip: true, tokenizer: tokenizer, seed: 9)
        let plain = try CaptionedImageDataset(directory: folder, transform: transform, randomFlip: false, tokenizer: tokenizer, seed: 9)
        var mirrored = 0
        for i in 0..<40 {
            let a = try flipping.batch([i], epoch: 2).pixelValues.scalars, b = try plain.batch([i], epoch: 2).pixelValues.scalars
            #expect(a == (try flipping.batch([i], epoch: 2).pixelValues.scalars), "the flip of (epoch, image) is fixed")
            if a != b {
                // Exactly the left-right mirror of the plain image: x → 63 − x in every row of every channel.
                var m = [Float](repeating: 0, count: b.count)
                for row in 0..<(3 * 64) {
                    for x in 0..<64 { m[row * 64 + x] = b[row * 64 + 63 - x] }
                }
                #expect(a == m, "image \(i) changed but is not the mirror")
                mirrored += 1
            }
        }
        // Binomial(40, ½): 8…32 holds with probability > 0.9999; every shape here is asymmetric once rotated.
        #expect((8...32).contains(mirrored), "\(mirrored) of 40 mirrored")
    }

    @Test("a folder's problems are errors that name the file and line")
    func errors() throws {
        let folder = try shapesFolder(3)
        defer { try? FileManager.default.removeItem(at: folder) }
        let transform = TrainingImageTransform(resolution: 64, centerCrop: true)
        func open() throws { _ = try CaptionedImageDataset(directory: folder, transform: transform, randomFlip: false, tokenizer: tokenizer, seed: 1) }
        let metadata = folder.appendingPathComponent("metadata.jsonl")
        let good = try String(contentsOf: metadata, encoding: .utf8)
        for (text, expected) in [
            (good + "{not json\n", "metadata.jsonl:4: not a JSON object"),
            (good + "{\"text\": \"x\"}\n", "metadata.jsonl:4: no \"file_name\" string"),
            ("{\"file_name\": \"00000.png\", \"caption\": \"x\"}\n", "metadata.jsonl:1: no \"text\" string (caption_column)"),
            ("{\"file_name\": \"missing.png\", \"text\": \"x\"}\n", "file_name \"missing.png\" is not a file in the folder"),
        ] {
            try text.write(to: metadata, atomically: true, encoding: .utf8)
            #expect { try open() } throws: { "\($0)".contains(expected) }
        }
        try FileManager.default.removeItem(at: metadata)
        try FileManager.default.removeItem(at: folder.appendingPathComponent("00001.txt"))
        #expect { try open() } throws: { "\($0)".contains("00001.txt: missing caption file") }
    }

    @Test("train_data_dir replaces the instance keys; DreamBooth-only settings are refused with it")
    func configuration() throws {
        let base = "pretrained_model_name_or_path: models/tiny\ntrain_data_dir: shapes\n"
        let c = try TrainingConfiguration.load(yaml: base + "random_flip: true\ncaption_column: text\nmax_train_samples: 10\n")
        #expect(c.trainDataDir == "shapes" && c.randomFlip && c.maxTrainSamples == 10 && c.instanceDataDir.isEmpty)
        for (extra, key) in [("with_prior_preservation: true\nclass_data_dir: c\nclass_prompt: p\n", "with_prior_preservation"),
                             ("instance_data_dir: photos\n", "instance_data_dir"), ("max_train_samples: 0\n", "max_train_samples")] {
            #expect { _ = try TrainingConfiguration.load(yaml: base + extra) } throws: { ($0 as? TrainingConfigurationError)?.key == key }
        }
        #expect { _ = try TrainingConfiguration.load(yaml: "pretrained_model_name_or_path: m\n") } throws: {
            ($0 as? TrainingConfigurationError)?.key == "instance_data_dir"
        }
        #expect {
            _ = try TrainingConfiguration.load(yaml: "pretrained_model_name_or_path: m\ninstance_data_dir: d\ninstance_prompt: p\nrandom_flip: true\n")
        } throws: { ($0 as? TrainingConfigurationError)?.key == "random_flip" }
        #expect(try TrainingConfiguration.load(yaml: base + "caption_dropout_rate: 0.1\n").captionDropoutRate == 0.1)
        #expect { _ = try TrainingConfiguration.load(yaml: base + "caption_dropout_rate: 1.5\n") } throws: {
            ($0 as? TrainingConfigurationError)?.key == "caption_dropout_rate"
        }
        #expect {
            _ = try TrainingConfiguration.load(yaml: "pretrained_model_name_or_path: m\ninstance_data_dir: d\ninstance_prompt: p\ncaption_dropout_rate: 0.1\n")
        } throws: { ($0 as? TrainingConfigurationError)?.key == "caption_dropout_rate" }
    }

    @Test("caption_dropout_rate shows the empty prompt instead, for a fixed share of (epoch, image), images unchanged")
    func captionDropout() throws {
        let folder = try shapesFolder(200)
        defer { try? FileManager.default.removeItem(at: folder) }
        let transform = TrainingImageTransform(resolution: 64, centerCrop: true)
        let dropping = try CaptionedImageDataset(directory: folder, transform: transform, randomFlip: true, captionDropoutRate: 0.25,
                                                 tokenizer: tokenizer, seed: 4)
        let plain = try CaptionedImageDataset(directory: folder, transform: transform, randomFlip: true, tokenizer: tokenizer, seed: 4)
        let empty = tokenizer.tokenize("").ids
        let all = Array(0..<200)
        let batch = try dropping.batch(all, epoch: 1), reference = try plain.batch(all, epoch: 1)
        #expect(batch.pixelValues.scalars == reference.pixelValues.scalars, "the crop and flip draws come first and stay the same")
        var dropped = 0
        for i in all {
            if batch.tokenIDs[i] == empty { dropped += 1 } else { #expect(batch.tokenIDs[i] == plain.captions[i].ids) }
        }
        // Binomial(200, ¼): 25…75 holds with probability > 0.9999.
        #expect((25...75).contains(dropped), "\(dropped) of 200 dropped")
        #expect(try dropping.batch(all, epoch: 1).tokenIDs == batch.tokenIDs, "fixed for (seed, epoch, image)")
        #expect(try dropping.batch(all, epoch: 2).tokenIDs != batch.tokenIDs, "another epoch drops others")
        #expect(try plain.batch(all, epoch: 1).tokenIDs == plain.captions.map(\.ids), "rate 0 drops none")
    }

    @Test("a text-to-image run on a shapes folder logs its steps and writes a model folder that renders")
    func run() throws {
        let data = try shapesFolder(8)
        defer { try? FileManager.default.removeItem(at: data) }
        let output = data.deletingLastPathComponent().appendingPathComponent("\(data.lastPathComponent)-out")
        defer { try? FileManager.default.removeItem(at: output) }
        var c = try TrainingConfiguration.load(yaml: """
            pretrained_model_name_or_path: \(Self.tiny.path)
            train_data_dir: \(data.path)
            output_dir: \(output.path)
            resolution: 64
            random_flip: true
            train_batch_size: 4
            train_text_encoder: true
            learning_rate: 1e-4
            lr_warmup_steps: 0
            max_train_steps: 3
            checkpointing_steps: 2
            seed: 5
            """)
        c.validationPrompt = nil
        var prompts: [String] = []
        try DreamBoothTrainer(configuration: c).run(report: { if case let .promptTruncated(p, _) = $0 { prompts.append(p) } })
        #expect(prompts.isEmpty)
        let log = try TrainingLog.read(output.appendingPathComponent("train_log.jsonl"))
        #expect(log.map(\.step) == [1, 2, 3] && log.allSatisfy { $0.loss.isFinite && $0.loss > 0 && $0.priorLoss == nil })
        let pipeline = try StableDiffusionPipeline.load(output)
        var request = RenderRequest(prompt: "a red circle on a blue background", seed: 1)
        request.steps = 4
        request.width = 64
        request.height = 64
        #expect(try pipeline.render(request)[0].image.pixels.count == 64 * 64 * 3)
        // The UNet moved from models/tiny's weights.
        let before = try ModelCheckpoint.open(Self.tiny).source(.unet).storedTensor("conv_in.weight").scalars
        let after = try ModelCheckpoint.open(output).source(.unet).storedTensor("conv_in.weight").scalars
        #expect(before != after)
    }

    @Test("save_precision: fp16 writes every network in halves: the fp32 run's weights rounded to nearest even")
    func savePrecision() throws {
        let data = try shapesFolder(4)
        defer { try? FileManager.default.removeItem(at: data) }
        var folders: [URL] = []
        defer { for folder in folders { try? FileManager.default.removeItem(at: folder) } }
        for precision in ["fp32", "fp16"] {
            let output = data.deletingLastPathComponent().appendingPathComponent("\(data.lastPathComponent)-\(precision)")
            folders.append(output)
            let c = try TrainingConfiguration.load(yaml: """
                pretrained_model_name_or_path: \(Self.tiny.path)
                train_data_dir: \(data.path)
                output_dir: \(output.path)
                resolution: 64
                train_batch_size: 2
                train_text_encoder: true
                max_train_steps: 2
                seed: 5
                save_precision: \(precision)
                """)
            try DreamBoothTrainer(configuration: c).run()
        }
        for (component, file) in [("unet", "diffusion_pytorch_model.safetensors"), ("text_encoder", "model.safetensors"),
                                  ("vae", "diffusion_pytorch_model.safetensors")] {
            let full = try SafetensorsFile(contentsOf: folders[0].appendingPathComponent("\(component)/\(file)"))
            let half = try SafetensorsFile(contentsOf: folders[1].appendingPathComponent("\(component)/\(file)"))
            #expect(Set(full.entries.keys) == Set(half.entries.keys))
            #expect(half.entries.values.allSatisfy { $0.dtype == .f16 } && full.entries.values.allSatisfy { $0.dtype == .f32 }, "\(component)")
            for key in full.entries.keys.sorted().prefix(6) {
                let rounded = try full.tensor(key).scalars.map { Float(Float16($0)) }
                #expect(try half.tensor(key).scalars == rounded, "\(component) \(key)")
            }
        }
        #expect { _ = try TrainingConfiguration.load(yaml: "pretrained_model_name_or_path: m\ntrain_data_dir: d\nsave_precision: fp8\n") } throws: {
            ($0 as? TrainingConfigurationError)?.key == "save_precision"
        }
    }
}
