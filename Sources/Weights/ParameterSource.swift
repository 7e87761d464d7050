// Where a model's parameters come from, by diffusers key: a checkpoint (with the layout mapping
// applied), or a random initialiser that records what it made (for `dbtrain init`).
//
// Models ask for each parameter by its diffusers name and shape, and say how PyTorch would have
// initialised it; a checkpoint source ignores the initialiser, a random source ignores the files.
import Foundation
import Tensor

/// How PyTorch initialises a parameter when a model is built from a config.
public enum ParameterInitializer: Sendable, Equatable {
    /// `kaiming_uniform_(a=√5)` on a weight with this fan-in: U(−1/√fanIn, 1/√fanIn).
    /// Also what conv and linear biases get (same bound).
    case uniformFanIn(Int)
    /// N(0, std²), as transformers initialises CLIP's embeddings and projections.
    case normal(std: Float)
    case ones
    case zeros
}

/// Hands out parameters by diffusers key.
public protocol ParameterSource: AnyObject {
    /// The parameter `key` with exactly `shape`.
    /// - Throws: `ModelLoadingError` when a checkpoint lacks the key or holds another shape.
    func parameter(_ key: String, shape: [Int], initializer: ParameterInitializer) throws -> Tensor
}

/// A parameter source that makes fresh parameters as PyTorch would, and remembers them in the order
/// they were asked for, so that they can be written as a checkpoint.
public final class RandomParameterSource: ParameterSource {
    /// Every parameter made so far, in creation order.
    public private(set) var parameters: [(key: String, tensor: Tensor)] = []
    private var generator: SplitMix64

    /// - Parameter seed: the same seed gives the same parameters.
    public init(seed: UInt64) { generator = SplitMix64(seed: seed) }

    public func parameter(_ key: String, shape: [Int], initializer: ParameterInitializer) throws -> Tensor {
        let t = Tensor(zeros: shape)
        switch initializer {
        case .uniformFanIn(let fanIn):
            let bound = 1 / Float(max(fanIn, 1)).squareRoot()
            for i in 0..<t.count { t.pointer[i] = (generator.nextUnit() * 2 - 1) * bound }
        case .normal(let std):
            for i in 0..<t.count { t.pointer[i] = generator.nextNormal() * std }
        case .ones:
            t.buffer.update(repeating: 1)
        case .zeros:
            break
        }
        parameters.append((key, t))
        return t
    }
}

/// A small, fast, seedable generator for initialisation (not PyTorch's: weights need only the right
/// distribution, and the exact torch sequence matters for sampling noise, not for random models).
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 24 random bits.
    mutating func nextUnit() -> Float { Float(next() >> 40) / Float(1 << 24) }

    /// Standard normal (Box–Muller).
    mutating func nextNormal() -> Float {
        let u1 = max(Double(next() >> 11) / Double(1 << 53), 1e-300)
        let u2 = Double(next() >> 11) / Double(1 << 53)
        return Float((-2 * Foundation.log(u1)).squareRoot() * Foundation.cos(2 * .pi * u2))
    }
}

/// A model component cannot be built from the weights it was given.
public enum ModelLoadingError: Error, CustomStringConvertible, Equatable {
    /// The checkpoint has no tensor for a parameter the architecture needs.
    case missingTensor(file: String, key: String)
    /// The checkpoint's tensor has another shape than the architecture needs.
    case shapeMismatch(file: String, key: String, expected: [Int], found: [Int])
    /// A model folder lacks a component's weights file.
    case missingWeightsFile(directory: String, component: String, tried: [String])
    /// The file does not look like an SD 1.x checkpoint.
    case unknownArchitecture(file: String, reason: String)

    public var description: String {
        switch self {
        case let .missingTensor(file, key):
            "\(file): no tensor '\(key)', which the model needs"
        case let .shapeMismatch(file, key, expected, found):
            "\(file): tensor '\(key)' has shape \(found), the model needs \(expected)"
        case let .missingWeightsFile(directory, component, tried):
            "\(directory): no weights for \(component) (looked for \(tried.joined(separator: ", ")))"
        case let .unknownArchitecture(file, reason):
            "\(file): not a Stable Diffusion 1.x checkpoint: \(reason)"
        }
    }
}
