// How the models differentiate: every trainable component has, beside its inference call, a
// `forwardWithPullback` that returns the output and a closure — the pullback — that maps ∂L/∂output to
// ∂L/∂input and adds the parameter gradients into the ParameterArena. A model's backward pass is its
// pullbacks called in reverse order of the forward calls; each closure keeps exactly the activations
// its backward needs (the inputs of its ops), so nothing else holds memory.
import Tensor

/// ∂L/∂output → ∂L/∂input, adding parameter gradients into the arena on the way.
public typealias Pullback = (Tensor) -> Tensor

extension Tensor {
    /// A zero tensor of the same shape: the start of a gradient that backward passes add into.
    func zerosLike() -> Tensor { Tensor(zeros: shape) }
}
