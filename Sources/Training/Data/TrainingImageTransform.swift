// The per-image transform of diffusers' DreamBoothDataset, in its order:
//   Resize(resolution, BILINEAR) → CenterCrop(resolution) | RandomCrop(resolution) → ToTensor → Normalize.
// (No horizontal flip: train_dreambooth.py has none.)
import ImageIO
import Tensor

/// Resize, crop and normalise one upright RGB training image to a `[3, resolution, resolution]` tensor.
public struct TrainingImageTransform: Sendable, Equatable {
    /// Side of the square the model trains on (`resolution`, 512 for SD 1.5).
    public var resolution: Int
    /// `center_crop`: true crops the middle; false (diffusers' default) crops at a random place.
    public var centerCrop: Bool

    public init(resolution: Int, centerCrop: Bool) {
        precondition(resolution > 0, "resolution must be positive")
        self.resolution = resolution
        self.centerCrop = centerCrop
    }

    /// The resized and cropped image. `generator` is used only for random crops.
    public func croppedImage(_ image: RGBImage, using generator: inout SplitMix64) -> RGBImage {
        let resized = ImageResize.resizingShorterSide(image, to: resolution)
        let crop = centerCrop
            ? CropRectangle.center(imageWidth: resized.width, imageHeight: resized.height,
                                   width: resolution, height: resolution)
            : CropRectangle.random(imageWidth: resized.width, imageHeight: resized.height,
                                   width: resolution, height: resolution, using: &generator)
        return resized.cropped(to: crop)
    }

    /// The training tensor `[3, resolution, resolution]` in [−1, 1].
    public func tensor(_ image: RGBImage, using generator: inout SplitMix64) -> Tensor {
        ImageTensor.normalized(croppedImage(image, using: &generator))
    }
}
