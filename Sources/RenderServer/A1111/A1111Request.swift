// A body of POST /sdapi/v1/txt2img or /img2img, read with AUTOMATIC1111's field names and defaults
// (modules/processing.py and modules/api/models.py: steps 50, cfg_scale 7, 512×512, seed −1 = random,
// sampler_index "Euler", denoising_strength 0.75 for img2img; batch_size × n_iter images with seeds
// seed, seed + 1, …) and turned into a request of our own API, which the daemon's validator then checks.
//
// Fields A1111 has and we do not: each is accepted when it cannot change the image — its default or
// an off value (restore_faces false, styles [], subseed_strength 0, enable_hr false with its hr_*
// fields, no mask, no scripts), or a field that only matters with another one we have refused — and is
// otherwise an error that names it. Names A1111 does not know are ignored, as A1111's own pydantic
// models ignore them.
import Foundation
import ImageIO
import RenderAPI

/// An A1111 generation request.
/// Immutable once parsed; the JSON values are never mutated, so it may cross threads.
struct A1111Request: @unchecked Sendable {
    enum Kind { case textToImage, imageToImage }

    /// Why the body cannot be served: `field` with A1111's name, `message` for the user.
    struct Invalid: Error {
        let field: String
        let message: String
        /// A1111 answers most bad fields 422, an unknown sampler 404 ("Sampler not found").
        var status = 422
    }

    /// The request in our API's terms, and what A1111's answer needs besides.
    struct Translation: Sendable {
        var body: RenderRequestBody
        var sampler: A1111Samplers.Choice
        var batchSize: Int
        var iterations: Int
        var sendImages: Bool
        var includeInitImages: Bool
        /// `body.initImage` decoded (and resized to the request's size), for the validator.
        var initImage: RGBImage?
    }

    let kind: Kind
    let fields: [String: Any]

    /// Parses the JSON object of a request body.
    init(kind: Kind, json: Data) throws(Invalid) {
        self.kind = kind
        guard let object = try? JSONSerialization.jsonObject(with: json), let fields = object as? [String: Any] else {
            throw Invalid(field: "body", message: "the body is not a JSON object")
        }
        self.fields = fields
    }

    // MARK: Typed access (null and absent both mean the default)

    private func value(_ key: String) -> Any? {
        guard let value = fields[key], !(value is NSNull) else { return nil }
        return value
    }

    func string(_ key: String) throws(Invalid) -> String? {
        guard let value = value(key) else { return nil }
        guard let text = value as? String else { throw Invalid(field: key, message: "\(key) must be a string") }
        return text
    }

    func number(_ key: String) throws(Invalid) -> Double? {
        guard let value = value(key) else { return nil }
        guard let number = value as? NSNumber, !Self.isBoolean(number), number.doubleValue.isFinite else {
            throw Invalid(field: key, message: "\(key) must be a number")
        }
        return number.doubleValue
    }

    func integer(_ key: String) throws(Invalid) -> Int? {
        guard let number = try number(key) else { return nil }
        guard number == number.rounded(), abs(number) < 9.0e15 else { throw Invalid(field: key, message: "\(key) must be a whole number") }
        return Int(number)
    }

    func bool(_ key: String) throws(Invalid) -> Bool? {
        guard let value = value(key) else { return nil }
        guard let number = value as? NSNumber, Self.isBoolean(number) else {
            throw Invalid(field: key, message: "\(key) must be true or false")
        }
        return number.boolValue
    }

    func object(_ key: String) throws(Invalid) -> [String: Any] {
        guard let value = value(key) else { return [:] }
        guard let object = value as? [String: Any] else { throw Invalid(field: key, message: "\(key) must be an object") }
        return object
    }

    func array(_ key: String) throws(Invalid) -> [Any] {
        guard let value = value(key) else { return [] }
        guard let array = value as? [Any] else { throw Invalid(field: key, message: "\(key) must be a list") }
        return array
    }

    /// A field that changes the image unless it has its off value: refused when it has another.
    private func requireOff(_ key: String, _ isOff: (Any) -> Bool, _ why: String) throws(Invalid) {
        if let value = value(key), !isOff(value) { throw Invalid(field: key, message: "\(key): \(why)") }
    }

    /// JSONSerialization gives true and false as NSNumbers of C type `char`, numbers never.
    static func isBoolean(_ number: NSNumber) -> Bool { String(cString: number.objCType) == "c" }

    private static func isFalse(_ value: Any) -> Bool { (value as? NSNumber).map { !$0.boolValue } ?? false }
    private static func isZero(_ value: Any) -> Bool { (value as? NSNumber).map { $0.doubleValue == 0 } ?? false }
    private static func isEmpty(_ value: Any) -> Bool {
        if let text = value as? String { return text.isEmpty }
        if let list = value as? [Any] { return list.isEmpty }
        if let object = value as? [String: Any] { return object.isEmpty }
        return false
    }

    // MARK: Translation

    /// The request in our API's terms. `options` are the daemon's A1111 options (clip skip, format,
    /// preview cadence); `model` and `textEncoderLayers` check override_settings (A1111Options.change).
    func translate(options: A1111Options, model: A1111ModelNames, textEncoderLayers: Int) throws(Invalid) -> Translation {
        var body = RenderRequestBody(prompt: try string("prompt") ?? "")
        body.negativePrompt = try string("negative_prompt") ?? ""

        // Things we do not do, accepted only when off.
        try requireOff("styles", Self.isEmpty, "prompt styles are not supported (the daemon has none)")
        try requireOff("restore_faces", Self.isFalse, "face restoration is not supported")
        try requireOff("tiling", Self.isFalse, "tiling is not supported")
        try requireOff("enable_hr", Self.isFalse, "hires fix is not supported; render at the size you want")
        try requireOff("subseed_strength", Self.isZero, "variation seeds are not supported")
        try requireOff("s_min_uncond", Self.isZero, "skipping the unconditional pass is not supported")
        try requireOff("initial_noise_multiplier", { ($0 as? NSNumber)?.doubleValue == 1 }, "must be 1")
        try requireOff("script_name", Self.isEmpty, "scripts are not supported")
        try requireOff("alwayson_scripts", Self.isEmpty, "scripts are not supported")
        try requireOff("infotext", Self.isEmpty, "applying an infotext is not supported; send its fields")
        try requireOff("disable_extra_networks", Self.isFalse, "not supported: <lora:…> tags always apply")
        try requireOff("mask", Self.isEmpty, "inpainting is not supported")
        try requireOff("refiner_checkpoint", { Self.isEmpty($0) || ($0 as? String) == "None" }, "refiners are not supported")
        for key in ["seed_resize_from_h", "seed_resize_from_w"] {
            // −1 (A1111's default) and 0 (webuiapi's) both mean off.
            try requireOff(key, { (($0 as? NSNumber)?.doubleValue ?? 1) <= 0 }, "seed resizing is not supported")
        }

        let seed = try integer("seed") ?? -1
        guard seed >= -1 else { throw Invalid(field: "seed", message: "seed must be -1 (random) or at least 0, got \(seed)") }
        body.seed = seed == -1 ? nil : UInt64(seed)

        let batchSize = try integer("batch_size") ?? 1, iterations = try integer("n_iter") ?? 1
        guard batchSize >= 1 else { throw Invalid(field: "batch_size", message: "batch_size must be at least 1") }
        guard iterations >= 1 else { throw Invalid(field: "n_iter", message: "n_iter must be at least 1") }
        body.count = batchSize * iterations
        body.steps = try integer("steps") ?? 50
        body.guidanceScale = try number("cfg_scale") ?? 7.0
        body.width = try integer("width") ?? 512
        body.height = try integer("height") ?? 512

        // Sampler: sampler_name, else the legacy sampler_index (A1111's default "Euler").
        let named = try string("sampler_name"), legacy = try string("sampler_index")
        let samplerName = named.flatMap { $0.isEmpty ? nil : $0 } ?? legacy ?? "Euler"
        let scheduler = try string("scheduler")
        let choice: A1111Samplers.Choice
        do { choice = try A1111Samplers.resolve(samplerName: samplerName, scheduler: scheduler) } catch {
            throw Invalid(field: error.field, message: error.message, status: error.isUnknownSampler ? 404 : 422)
        }
        body.sampler = choice.sampler
        if let eta = try number("eta") {
            switch choice.sampler {
            case "euler_a" where eta != 1:
                throw Invalid(field: "eta", message: "Euler a runs with eta 1 here (ancestral noise in full), got \(eta)")
            default: break  // DDIM takes it (below); A1111's other samplers here take none
            }
        }
        // s_churn > 0 adds noise in A1111's Euler and Heun; at 0 the other s_* do nothing.
        if ["euler", "heun"].contains(choice.sampler) {
            try requireOff("s_churn", Self.isZero, "stochastic churn is not supported")
        }

        // Settings for this request only.
        let overrides = try object("override_settings")
        var clipSkip = options.clipSkip, format = options.samplesFormat
        for (key, value) in overrides.sorted(by: { $0.key < $1.key }) {
            let field = "override_settings.\(key)"
            let change: A1111Options.Change
            do { change = try A1111Options.change(key, value, model: model, textEncoderLayers: textEncoderLayers) } catch {
                throw Invalid(field: field, message: "\(field): \(error.message)")
            }
            switch change {
            case .clipSkip(let value): clipSkip = value
            case .format(let value): format = value
            case .previewEvery, .livePreviews: throw Invalid(field: field, message: "\(field) is not supported here")
            case .none: break
            }
        }
        body.clipSkip = clipSkip
        body.format = format
        if choice.sampler == "ddim", let eta = try number("eta") { body.eta = eta }
        if options.livePreviews, options.previewEvery > 0 { body.previewEvery = options.previewEvery }

        var includeInitImages = false
        var decodedInitImage: RGBImage?
        if kind == .imageToImage {
            body.strength = try number("denoising_strength") ?? 0.75
            includeInitImages = try bool("include_init_images") ?? false
            let (text, image) = try initImage(width: body.width!, height: body.height!)
            body.initImage = text
            decodedInitImage = image
            body.width = nil
            body.height = nil  // the (resized) init image sets the size
        }
        return Translation(body: body, sampler: choice, batchSize: batchSize, iterations: iterations,
                           sendImages: try bool("send_images") ?? true, includeInitImages: includeInitImages,
                           initImage: decodedInitImage)
    }

    /// The init image, resized to width × height as A1111's resize_mode 0 ("Just resize") does when its
    /// size differs: as base64 (for the answer's `init_images`) and decoded (for the render).
    private func initImage(width: Int, height: Int) throws(Invalid) -> (base64: String, image: RGBImage) {
        let images = try array("init_images")
        guard let first = images.first else { throw Invalid(field: "init_images", message: "img2img needs init_images (one image)") }
        guard images.count == 1 else {
            throw Invalid(field: "init_images", message: "one init image per request here, got \(images.count)")
        }
        guard var text = first as? String else { throw Invalid(field: "init_images", message: "init_images holds base64 strings") }
        // webuiapi sends data URLs ("data:image/png;base64,…").
        if text.hasPrefix("data:"), let comma = text.firstIndex(of: ",") { text = String(text[text.index(after: comma)...]) }
        guard let data = Data(base64Encoded: text, options: .ignoreUnknownCharacters) else {
            throw Invalid(field: "init_images", message: "init_images[0] is not base64")
        }
        let image: RGBImage
        do { image = try ImageFile.decode(data, source: "init_images[0]").image } catch {
            throw Invalid(field: "init_images", message: "init_images[0] does not decode: \(error)")
        }
        guard image.width != width || image.height != height else { return (text, image) }
        let mode = try integer("resize_mode") ?? 0
        guard mode == 0 else {
            throw Invalid(field: "resize_mode", message: "only resize_mode 0 (just resize) is supported when the init image is not \(width)×\(height)")
        }
        guard width > 0, height > 0, width * height <= 4 << 20 else {
            throw Invalid(field: "width", message: "\(width)×\(height) is not a size to resize to")
        }
        let resized = ImageResize.bilinear(image, width: width, height: height)
        do { return (try ImageFile.encode(resized, format: .png).base64EncodedString(), resized) } catch {
            throw Invalid(field: "init_images", message: "init_images[0] cannot be resized: \(error)")
        }
    }
}
