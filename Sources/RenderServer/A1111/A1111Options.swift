// The A1111 settings a client may read and set (GET/POST /sdapi/v1/options) and that A1111 requests
// use: clip skip (CLIP_stop_at_last_layers), the image format (samples_format), and live previews
// (show_progress_every_n_steps, live_previews_enable). They are the daemon's, shared by every A1111
// client, as in A1111; they reset when the daemon restarts. A request's override_settings apply to
// that request only.
import Foundation
import ImageIO

/// The daemon's A1111 settings. Thread-safe.
final class A1111Options: @unchecked Sendable {
    private let lock = NSLock()
    private var _clipSkip = 1
    private var _samplesFormat = "png"
    private var _previewEvery = 10
    private var _livePreviews = true

    var clipSkip: Int { lock.withLock { _clipSkip } }
    var samplesFormat: String { lock.withLock { _samplesFormat } }
    var previewEvery: Int { lock.withLock { _previewEvery } }
    var livePreviews: Bool { lock.withLock { _livePreviews } }

    /// Settings that change nothing here (saving to disk, UI behaviour), accepted and ignored in POST
    /// /options and in override_settings.
    static let harmless: Set<String> = [
        "samples_save", "save_images_add_number", "grid_save", "jpeg_quality", "export_for_4chan", "save_txt",
        "enable_pnginfo", "save_to_dirs", "outdir_samples", "outdir_txt2img_samples", "outdir_img2img_samples",
        "outdir_grids", "return_grid", "do_not_show_images", "js_modal_lightbox", "show_progressbar",
        "live_preview_refresh_period", "interrupt_after_current", "sd_checkpoint_cache", "sd_vae_checkpoint_cache",
        "emphasis", "comma_padding_backtrack", "sd_checkpoint_hash", "img2img_fix_steps",
    ]

    /// Our image format for an A1111 samples_format ("png", "webp", "jpg"/"jpeg"; JPEG at A1111's
    /// default jpeg_quality, 80).
    static func format(_ name: String) -> String? {
        switch name.lowercased() {
        case "png": "png"
        case "webp": "webp"
        case "jpg", "jpeg": "jpeg"
        default: nil
        }
    }

    /// GET /sdapi/v1/options: ours, and A1111's defaults for what we do the A1111 way.
    /// `previewType`: A1111's name for how live previews are made ("TAESD" with `--taesd`, else "Approx cheap").
    func snapshot(model: A1111ModelNames, previewType: String) -> [String: Any] {
        lock.withLock {
            [
                "sd_model_checkpoint": model.title, "sd_checkpoint_hash": model.sha256 ?? NSNull(),
                "CLIP_stop_at_last_layers": _clipSkip, "samples_format": _samplesFormat,
                "show_progress_every_n_steps": _previewEvery, "live_previews_enable": _livePreviews,
                "live_preview_content": "Combined", "show_progress_type": previewType,
                "sd_vae": "Automatic", "emphasis": "Original", "comma_padding_backtrack": 20,
                "eta_ancestral": 1.0, "eta_ddim": 0.0, "randn_source": "CPU", "enable_pnginfo": true,
                "jpeg_quality": 80, "samples_save": false, "grid_save": false,
            ]
        }
    }

    /// Why a setting cannot be changed.
    struct Refusal: Error {
        let key: String
        let message: String
    }

    /// What one setting asks for, once checked.
    enum Change {
        case clipSkip(Int)
        case format(String)
        case previewEvery(Int)
        case livePreviews(Bool)
        /// Accepted, changes nothing here (the loaded model named, its own VAE, a harmless setting).
        case none
    }

    /// Checks one setting (`key`: `value`) against the loaded model: the rule shared by POST /options
    /// and a request's override_settings.
    static func change(_ key: String, _ value: Any, model: A1111ModelNames, textEncoderLayers: Int) throws(Refusal) -> Change {
        switch key {
        case "sd_model_checkpoint":
            guard let name = value as? String, model.matches(name) else {
                throw Refusal(key: key, message: "model \(value) not found: this daemon serves \(model.title)")
            }
            return .none
        case "CLIP_stop_at_last_layers":
            guard let number = value as? NSNumber, (1...textEncoderLayers).contains(number.intValue), Double(number.intValue) == number.doubleValue else {
                throw Refusal(key: key, message: "\(key) must be a whole number from 1 to \(textEncoderLayers)")
            }
            return .clipSkip(number.intValue)
        case "samples_format":
            guard let name = value as? String, let chosen = format(name) else {
                throw Refusal(key: key, message: "\(key) must be png, webp or jpg")
            }
            return .format(chosen)
        case "show_progress_every_n_steps":
            guard let number = value as? NSNumber, Double(number.intValue) == number.doubleValue else {
                throw Refusal(key: key, message: "\(key) must be a whole number (0 or less: no previews)")
            }
            return .previewEvery(max(number.intValue, 0))
        case "live_previews_enable":
            guard let flag = value as? Bool else { throw Refusal(key: key, message: "\(key) must be true or false") }
            return .livePreviews(flag)
        case "sd_vae":
            guard let name = value as? String, ["Automatic", "None"].contains(name) else {
                throw Refusal(key: key, message: "only the model's own VAE is used here")
            }
            return .none
        default:
            guard harmless.contains(key) else { throw Refusal(key: key, message: "\(key) is not supported here") }
            return .none
        }
    }

    /// POST /sdapi/v1/options: every key is checked before any is applied.
    func apply(_ settings: [String: Any], model: A1111ModelNames, textEncoderLayers: Int) throws(Refusal) {
        var clipSkip: Int?, format: String?, previewEvery: Int?, live: Bool?
        for (key, value) in settings.sorted(by: { $0.key < $1.key }) {
            switch try Self.change(key, value, model: model, textEncoderLayers: textEncoderLayers) {
            case .clipSkip(let value): clipSkip = value
            case .format(let value): format = value
            case .previewEvery(let value): previewEvery = value
            case .livePreviews(let value): live = value
            case .none: break
            }
        }
        lock.withLock {
            if let clipSkip { _clipSkip = clipSkip }
            if let format { _samplesFormat = format }
            if let previewEvery { _previewEvery = previewEvery }
            if let live { _livePreviews = live }
        }
    }
}

/// The names an A1111 client may use for the loaded model.
struct A1111ModelNames: Sendable {
    /// The file or folder name ("shapes", "sd15.safetensors").
    let name: String
    /// A1111's title: "name [short hash]".
    let title: String
    let shortHash: String?
    let sha256: String?
    let path: String

    init(path: String, sha256: String?) {
        self.path = path
        let file = URL(fileURLWithPath: path).lastPathComponent
        name = file
        self.sha256 = sha256
        let short = sha256.map { String($0.prefix(10)) }
        shortHash = short
        title = short.map { "\(file) [\($0)]" } ?? file
    }

    /// The model name without its extension (A1111's model_name).
    var modelName: String { (name as NSString).deletingPathExtension }

    /// True when `text` names this model: its title, name, name without extension, or hash.
    func matches(_ text: String) -> Bool {
        let candidates = [title, name, modelName, shortHash, sha256].compactMap { $0 }
        return candidates.contains(text) || (shortHash.map { text.hasSuffix("[\($0)]") } ?? false)
    }
}
