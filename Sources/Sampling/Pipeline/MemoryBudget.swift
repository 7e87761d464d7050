// How much memory a render's working tensors may take, and what fits in it: how many UNet rows one
// call may hold, and whether the VAE must decode by tiles. The largest request the default limits
// allow (1024×1024, 16 images, 32 guided rows) would otherwise run as one UNet call of 32 rows.
//
// The limit is the memory the process may use: the machine's (MemTotal), or its cgroup's when that is
// lower (cgroup v2 `memory.max`, v1 `memory.limit_in_bytes`: systemd's MemoryMax=, a container's
// limit). The budget is a share of it, less the model's weights (mapped, and resident once read).
//
// The estimates are per UNet row and per decoded image, in fp32, from the model's configuration:
//   UNet row: the skip activations the up path keeps, Σ over levels of (layers + 1)·C·h·w, plus the
//     working set of the widest level's transformer (residual streams, q/k/v, the GEGLU's 8C-wide
//     projection and 4C-wide product): about 24·C₀·h₀·w₀ — 150 MB a row at 512 px for SD 1.5.
//   VAE decode: about six tensors of the full-resolution activation live at once, plus the
//     convolution's column blocks (128 MiB) — 0.9 GB at 512 px, 3.3 GB at 1024 px for SD 1.5.
// They are deliberately round: the budget's share leaves the margin.
import Foundation
import Weights

/// The memory a render's working tensors may take.
public struct MemoryBudget: Sendable, Equatable {
    public let bytes: Int

    public init(bytes: Int) { self.bytes = max(bytes, 0) }

    /// The default: `share` of the memory this process may use, less `weightBytes`.
    public static func automatic(share: Double = 0.5, weightBytes: Int) -> MemoryBudget {
        MemoryBudget(bytes: Int(Double(processLimitBytes()) * share) - weightBytes)
    }

    /// The memory this process may use: the machine's, or its cgroup's when lower.
    public static func processLimitBytes() -> Int {
        func read(_ path: String) -> String? { try? String(contentsOfFile: path, encoding: .utf8) }
        let ownCgroup = read("/proc/self/cgroup")
        return limit(meminfo: read("/proc/meminfo") ?? "",
                     cgroupV2Max: cgroupFile(ownCgroup, name: "memory.max").flatMap(read) ?? read("/sys/fs/cgroup/memory.max"),
                     cgroupV1Limit: read("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
    }

    /// The file `name` of this process's own cgroup v2 group (`0::/path` in /proc/self/cgroup).
    static func cgroupFile(_ procSelfCgroup: String?, name: String) -> String? {
        guard let line = procSelfCgroup?.split(separator: "\n").first(where: { $0.hasPrefix("0::") }) else { return nil }
        let path = line.dropFirst(3).trimmingCharacters(in: .whitespaces)
        return "/sys/fs/cgroup" + (path == "/" ? "" : path) + "/" + name
    }

    /// The lowest of MemTotal and the cgroup limits given ("max" or an absurd v1 value: no limit).
    static func limit(meminfo: String, cgroupV2Max: String?, cgroupV1Limit: String?) -> Int {
        var limit = Int.max
        if let line = meminfo.split(separator: "\n").first(where: { $0.hasPrefix("MemTotal:") }),
           let kilobytes = Int(line.split(separator: " ").dropFirst().first ?? "") {
            limit = kilobytes * 1024
        }
        for text in [cgroupV2Max, cgroupV1Limit].compactMap({ $0?.trimmingCharacters(in: .whitespacesAndNewlines) }) {
            if let bytes = Int(text), bytes > 0, bytes < (1 << 60) { limit = min(limit, bytes) }
        }
        return limit == .max ? 8 << 30 : limit  // nothing readable: assume a modest machine
    }

    /// UNet rows one call may hold at `latentHeight` × `latentWidth`: at least 1, at most `cap`.
    public func unetRows(_ unet: UNetConfiguration, latentHeight: Int, latentWidth: Int, cap: Int = .max) -> Int {
        let perRow = Self.unetRowBytes(unet, latentHeight: latentHeight, latentWidth: latentWidth)
        return max(1, min(cap, bytes / max(perRow, 1)))
    }

    /// Whether decoding an image of `height` × `width` pixels must go by tiles to fit.
    public func needsTiledDecode(_ vae: AutoencoderConfiguration, height: Int, width: Int) -> Bool {
        Self.vaeDecodeBytes(vae, height: height, width: width) > bytes
    }

    /// Estimated working bytes of one UNet row (see the header).
    public static func unetRowBytes(_ unet: UNetConfiguration, latentHeight h: Int, latentWidth w: Int) -> Int {
        var floats = 0, plane = h * w
        for channels in unet.blockOutChannels {
            floats += (unet.layersPerBlock + 1) * channels * plane
            plane = max(1, plane / 4)
        }
        floats += 24 * (unet.blockOutChannels.first ?? 0) * h * w
        return floats * MemoryLayout<Float>.size
    }

    /// Estimated working bytes of one image's VAE decode (see the header).
    public static func vaeDecodeBytes(_ vae: AutoencoderConfiguration, height: Int, width: Int) -> Int {
        6 * (vae.blockOutChannels.first ?? 0) * height * width * MemoryLayout<Float>.size + (128 << 20)
    }
}
