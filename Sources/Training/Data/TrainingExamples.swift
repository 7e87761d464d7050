// What the training loop needs from a data set, so that one loop serves DreamBooth (instance and
// class images with two fixed prompts) and text-to-image training (each image with its caption).
import Models

/// A data set of training examples, batched in a seeded order.
public protocol TrainingExamples: Sendable {
    /// Examples per epoch.
    var count: Int { get }
    /// True when each batch holds class images after the instance images (DreamBooth prior preservation).
    var hasPriorPreservation: Bool { get }
    /// The distinct prompts as written and tokenized (for the over-75-tokens warning).
    var prompts: [(text: String, tokens: TokenizedPrompt)] { get }
    /// The example indices of `epoch` cut into batches of `batchSize` (the last may be short).
    func batches(epoch: Int, batchSize: Int) -> [[Int]]
    /// The collated batch of `indices` as seen in `epoch`.
    func batch(_ indices: [Int], epoch: Int) throws(TrainingDataError) -> DreamBoothBatch
}

extension TrainingExamples {
    /// A permutation of `0..<count` drawn from (seed, epoch), cut into runs of `batchSize` — the
    /// order DataLoader(shuffle=True, drop_last=False) gives, from our generator.
    func seededBatches(seed: UInt64, epoch: Int, batchSize: Int) -> [[Int]] {
        precondition(batchSize >= 1, "batch size \(batchSize)")
        var generator = SplitMix64(seed: seed, 0x0E90C, epoch)
        let order = generator.permutation(count)
        return stride(from: 0, to: order.count, by: batchSize).map { Array(order[$0..<min($0 + batchSize, order.count)]) }
    }
}
