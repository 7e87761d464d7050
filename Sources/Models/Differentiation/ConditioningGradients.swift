// Every resnet of the UNet reads the same time embedding and every cross-attention the same text
// context, so their gradients are sums over all blocks: the blocks' pullbacks add into one of these.
import Tensor

/// ∂L/∂(activated time embedding) [B, T] and ∂L/∂context [B, S, C], summed over the blocks.
public final class ConditioningGradients {
    public let timeEmbedding: Tensor
    public let context: Tensor

    public init(timeEmbeddingShape: [Int], contextShape: [Int]) {
        timeEmbedding = Tensor(zeros: timeEmbeddingShape)
        context = Tensor(zeros: contextShape)
    }

    func add(_ gradients: (x: Tensor, timeEmbedding: Tensor?)) -> Tensor {
        if let t = gradients.timeEmbedding { Add.accumulate(t, into: timeEmbedding) }
        return gradients.x
    }

    func add(_ gradients: (x: Tensor, context: Tensor)) -> Tensor {
        Add.accumulate(gradients.context, into: context)
        return gradients.x
    }
}
