// Square crops of a resized training image, as torchvision's `CenterCrop(size)` and `RandomCrop(size)`
// in diffusers' DreamBooth transform. After `Resize(size)` the shorter side already equals `size`, so the
// crop only chooses where along the longer side the square sits.
import ImageIO

/// Where a crop sits and how big it is.
public struct CropRectangle: Sendable, Equatable {
    public var left: Int
    public var top: Int
    public var width: Int
    public var height: Int

    public init(left: Int, top: Int, width: Int, height: Int) {
        self.left = left; self.top = top; self.width = width; self.height = height
    }

    /// torchvision's `CenterCrop`: offsets `int(round((side - crop) / 2.0))`, and Python's round() goes
    /// half to even, so a spare of 1 pixel gives offset 0, of 3 gives 2, of 5 gives 2.
    public static func center(imageWidth: Int, imageHeight: Int, width: Int, height: Int) -> CropRectangle {
        precondition(width <= imageWidth && height <= imageHeight,
                     "crop \(width)x\(height) larger than the image \(imageWidth)x\(imageHeight)")
        func offset(_ spare: Int) -> Int { Int((Double(spare) / 2.0).rounded(.toNearestOrEven)) }
        return CropRectangle(left: offset(imageWidth - width), top: offset(imageHeight - height),
                             width: width, height: height)
    }

    /// `RandomCrop`: top uniform in 0…(H − h), then left uniform in 0…(W − w), as torchvision draws them
    /// (`torch.randint(0, h - th + 1)` then `(0, w - tw + 1)`) — but from our seeded generator, so the
    /// offsets are deterministic for a seed without matching torch's stream. A crop the size of the
    /// image draws nothing, as torchvision's returns early.
    public static func random(imageWidth: Int, imageHeight: Int, width: Int, height: Int,
                              using generator: inout SplitMix64) -> CropRectangle {
        precondition(width <= imageWidth && height <= imageHeight,
                     "crop \(width)x\(height) larger than the image \(imageWidth)x\(imageHeight)")
        if width == imageWidth && height == imageHeight {
            return CropRectangle(left: 0, top: 0, width: width, height: height)
        }
        let top = generator.uniform(below: imageHeight - height + 1)
        let left = generator.uniform(below: imageWidth - width + 1)
        return CropRectangle(left: left, top: top, width: width, height: height)
    }
}

extension RGBImage {
    /// The pixels inside `crop`, which must lie within the image.
    public func cropped(to crop: CropRectangle) -> RGBImage {
        precondition(crop.left >= 0 && crop.top >= 0 && crop.left + crop.width <= width
                     && crop.top + crop.height <= height, "crop \(crop) outside \(width)x\(height)")
        var out = [UInt8]()
        out.reserveCapacity(crop.width * crop.height * 3)
        for y in crop.top..<(crop.top + crop.height) {
            let start = (y * width + crop.left) * 3
            out.append(contentsOf: pixels[start..<(start + crop.width * 3)])
        }
        return RGBImage(width: crop.width, height: crop.height, pixels: out)
    }
}
