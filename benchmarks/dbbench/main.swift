// dbbench — performance measurements for dbrender. Build and run in release mode:
//   swift run -c release dbbench kernels [--products | --convolutions | --attention] [--repetitions N]
//   swift run -c release dbbench models --model DIR [--repetitions N] [--render-steps N] [--json]
//   swift run -c release dbbench cfg --model DIR [--latent-sizes 32,64] [--repetitions N]
//   swift run -c release dbbench decoders --model DIR [--large | --latent-sizes 32,64] [--taesd-only] [--repetitions N]
//   swift run -c release dbbench hash [--repetitions N]
//   swift run -c release dbbench lora --model DIR [--rank 16] [--repetitions N]
//   swift run -c release dbbench train-step --model DIR [--resolution 256] [--prior] [--text-encoder] [--checkpointing] [--lora] [--cache-latents] [--json]
//   swift run -c release dbbench run-components --model DIR --inputs IN.safetensors --out OUT.safetensors
import Foundation

let arguments = Array(CommandLine.arguments.dropFirst())

/// The value after `--name`, if given.
func option(_ name: String) -> String? {
    guard let i = arguments.firstIndex(of: name), i + 1 < arguments.count else { return nil }
    return arguments[i + 1]
}

/// The comma-separated integers after `--name` ("32,64"), if given.
func integers(_ name: String) -> [Int]? {
    option(name).map { $0.split(separator: ",").compactMap { Int($0) } }
}

let repetitions = option("--repetitions").flatMap(Int.init) ?? 5
let usage = """
    usage: dbbench kernels [--products | --convolutions | --attention] [--repetitions N]
           dbbench models --model DIR [--repetitions N] [--render-steps N] [--json]
           dbbench cfg --model DIR [--latent-sizes 32,64] [--repetitions N]
           dbbench decoders --model DIR [--large | --latent-sizes 32,64] [--taesd-only] [--repetitions N]
           dbbench hash [--repetitions N]
           dbbench lora --model DIR [--rank 16] [--repetitions N]
           dbbench train-step --model DIR [--resolution PX] [--prior] [--text-encoder] [--checkpointing] [--lora] [--cache-latents] [--repetitions N] [--json]
           dbbench run-components --model DIR --inputs IN.safetensors --out OUT.safetensors

    """

if arguments.contains("--help") || arguments.contains("-h") {
    print(usage, terminator: "")
    exit(0)
}

do {
    switch arguments.first {
    case "kernels":
        KernelBenchmarks.run(repetitions: repetitions, onlyProducts: arguments.contains("--products"),
                             onlyConvolutions: arguments.contains("--convolutions"), onlyAttention: arguments.contains("--attention"))
    case "models":
        guard let model = option("--model") else { throw CommandLineError.missing("--model") }
        try ModelBenchmarks.run(modelPath: model, repetitions: repetitions, renderSteps: option("--render-steps").flatMap(Int.init) ?? 0,
                                json: arguments.contains("--json"))
    case "cfg":
        guard let model = option("--model") else { throw CommandLineError.missing("--model") }
        try GuidanceBenchmark.run(modelPath: model, latentSizes: integers("--latent-sizes") ?? [32, 64], repetitions: repetitions)
    case "decoders":
        guard let model = option("--model") else { throw CommandLineError.missing("--model") }
        try DecoderBenchmark.run(modelPath: model, large: arguments.contains("--large"),
                                  latentSizes: integers("--latent-sizes"),
                                  taesdOnly: arguments.contains("--taesd-only"),
                                  repetitions: repetitions)
    case "train-step":
        guard let model = option("--model") else { throw CommandLineError.missing("--model") }
        try TrainingStepBenchmark.run(modelPath: model, resolution: option("--resolution").flatMap(Int.init) ?? 256,
                                      priorPreservation: arguments.contains("--prior"), trainTextEncoder: arguments.contains("--text-encoder"),
                                      checkpointing: arguments.contains("--checkpointing"), lora: arguments.contains("--lora"), cacheLatents: arguments.contains("--cache-latents"),
                                      repetitions: repetitions,
                                      json: arguments.contains("--json"))
    case "hash":
        HashBenchmark.run(repetitions: repetitions)
    case "lora":
        guard let model = option("--model") else { throw CommandLineError.missing("--model") }
        try LoRABenchmark.run(modelPath: model, rank: option("--rank").flatMap(Int.init) ?? 16, repetitions: repetitions)
    case "run-components":
        guard let model = option("--model"), let inputs = option("--inputs"), let out = option("--out") else {
            throw CommandLineError.missing("--model, --inputs and --out")
        }
        try ComponentRunner.run(modelPath: model, inputsPath: inputs, outputPath: out)
    default:
        FileHandle.standardError.write(usage.data(using: .utf8)!)
        exit(2)
    }
} catch {
    FileHandle.standardError.write("dbbench: \(error)\n".data(using: .utf8)!)
    exit(1)
}

enum CommandLineError: Error, CustomStringConvertible {
    case missing(String)
    var description: String {
        switch self {
        case .missing(let what): "missing \(what)\n\(usage)"
        }
    }
}
