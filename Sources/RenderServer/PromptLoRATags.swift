// A1111's prompt syntax for LoRAs: `<lora:name>` or `<lora:name:weight>` anywhere in the prompt. The
// tags are taken out of the text the text encoder sees (A1111 does the same) and become the request's
// LoRAs; the prompt reported in the image's parameters keeps them, as A1111's infotext does.
// (A1111's third field, a separate text-encoder weight, and named arguments are not accepted.)
import Foundation

/// The LoRA tags of a prompt.
struct PromptLoRATags: Equatable {
    /// The prompt without its tags.
    let text: String
    /// (name, weight) in order of appearance.
    let loras: [(name: String, weight: Double)]

    static func == (a: PromptLoRATags, b: PromptLoRATags) -> Bool {
        a.text == b.text && a.loras.map(\.name) == b.loras.map(\.name) && a.loras.map(\.weight) == b.loras.map(\.weight)
    }

    /// Why a tag cannot be read: the tag as written.
    struct Malformed: Error, Equatable { let tag: String }

    /// Splits `prompt` into text and tags.
    static func parse(_ prompt: String) throws(Malformed) -> PromptLoRATags {
        var text = "", loras: [(String, Double)] = []
        var rest = Substring(prompt)
        while let open = rest.range(of: "<lora:") {
            text += rest[..<open.lowerBound]
            guard let close = rest[open.upperBound...].firstIndex(of: ">") else { throw Malformed(tag: String(rest[open.lowerBound...])) }
            let tag = String(rest[open.lowerBound...close])
            let fields = rest[open.upperBound..<close].split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            let name = fields[0].trimmingCharacters(in: .whitespaces)
            guard !name.isEmpty, fields.count <= 2 else { throw Malformed(tag: tag) }
            var weight = 1.0
            if fields.count == 2 {
                guard let value = Double(fields[1].trimmingCharacters(in: .whitespaces)), value.isFinite else { throw Malformed(tag: tag) }
                weight = value
            }
            loras.append((name, weight))
            rest = rest[rest.index(after: close)...]
        }
        text += rest
        return PromptLoRATags(text: text, loras: loras)
    }
}
