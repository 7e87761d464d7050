// A render as the user describes it — on the command line, on a prompt-file line or as a JSON line:
// the request body, plus an init image that stays on disk until its job is sent.
import Foundation
import RenderAPI

/// One render's settings before it is sent.
public struct RenderSpec: Sendable, Equatable {
    public var request: RenderRequestBody
    /// `--init-image FILE`: read and base64-encoded only when its job is sent, so that a long batch of
    /// image-to-image lines does not hold every image in memory.
    public var initImagePath: String?

    public init(request: RenderRequestBody, initImagePath: String? = nil) {
        self.request = request
        self.initImagePath = initImagePath
    }

    /// The format the images will have: the requested one, else the daemon's default (png).
    public var format: String { request.format ?? "png" }

    /// The request to send, with the init image read from disk.
    public func resolvedRequest() throws(ClientError) -> RenderRequestBody {
        guard let initImagePath else { return request }
        var request = request
        do {
            request.initImage = try Data(contentsOf: URL(fileURLWithPath: initImagePath)).base64EncodedString()
        } catch {
            throw .cannotRead(path: initImagePath, reason: error.localizedDescription)
        }
        return request
    }
}

extension RenderRequestBody {
    /// `self` with every field it leaves unset taken from `base` (a JSON line over the command-line flags).
    public func filled(from base: RenderRequestBody) -> RenderRequestBody {
        var merged = self
        merged.negativePrompt = negativePrompt ?? base.negativePrompt
        merged.steps = steps ?? base.steps
        merged.guidanceScale = guidanceScale ?? base.guidanceScale
        merged.sampler = sampler ?? base.sampler
        merged.seed = seed ?? base.seed
        merged.width = width ?? base.width
        merged.height = height ?? base.height
        merged.count = count ?? base.count
        merged.format = format ?? base.format
        merged.quality = quality ?? base.quality
        merged.clipSkip = clipSkip ?? base.clipSkip
        merged.initImage = initImage ?? base.initImage
        merged.strength = strength ?? base.strength
        merged.loras = loras ?? base.loras
        merged.promptSyntax = promptSyntax ?? base.promptSyntax
        merged.decoder = decoder ?? base.decoder
        merged.vaeTiling = vaeTiling ?? base.vaeTiling
        return merged
    }
}
