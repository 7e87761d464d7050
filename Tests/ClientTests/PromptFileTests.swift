// Batch prompt files: per-line overrides over the command line's settings, comments, blank lines,
// quoting, errors that name file and line, and JSON lines.
import Foundation
import RenderAPI
import Testing
@testable import RenderClient

@Suite struct PromptFileTests {
    /// The command line's settings: steps 30 and seed 1 unless a line overrides them.
    static var base: RenderSpec {
        var request = RenderRequestBody(prompt: "")
        request.steps = 30
        request.seed = 1
        request.sampler = "euler_a"
        return RenderSpec(request: request)
    }

    func parse(_ text: String) throws(ClientError) -> [PromptFile.Entry] {
        try PromptFile.parseText(text, file: "batch.txt", base: Self.base, directory: "prompts")
    }

    func error(_ text: String) -> String? {
        do {
            _ = try parse(text)
            return nil
        } catch {
            return error.description
        }
    }

    @Test func promptsOverridesCommentsAndBlanks() throws {
        let entries = try parse("""
            # DreamBooth check, sks dog
            a photo of sks dog

              --seed 7 --steps 40 a photo of sks dog on the beach  \t
            --sampler=dpmpp_2m --guidance 5.5 --width 640 --height 384 --count 2 a wide #ff0000 dog
               # an indented comment
            """)
        #expect(entries.map(\.line) == [2, 4, 5])
        #expect(entries[0].spec == RenderSpec(request: { var r = Self.base.request; r.prompt = "a photo of sks dog"; return r }()))
        #expect(entries[1].spec.request.prompt == "a photo of sks dog on the beach")
        #expect(entries[1].spec.request.seed == 7 && entries[1].spec.request.steps == 40)
        #expect(entries[1].spec.request.sampler == "euler_a")  // from the command line
        let wide = entries[2].spec.request
        #expect(wide.prompt == "a wide #ff0000 dog")  // an inline # is part of the prompt
        #expect(wide.sampler == "dpmpp_2m" && wide.guidanceScale == 5.5 && wide.width == 640 && wide.height == 384 && wide.count == 2)
        #expect(wide.seed == 1 && wide.steps == 30)
    }

    @Test func everyRenderFlag() throws {
        let entry = try #require(try parse("""
            --negative-prompt blurry --steps 9 --guidance 3 --sampler heun --seed 18446744073709551615 --width 64 --height 72 \
            --count 3 --format webp --quality 80 --clip-skip 2 --init-image start.png --strength 0.25             --lora sks-dog:0.8 --lora style --decoder taesd prompt
            """).first)
        var expected = RenderRequestBody(prompt: "prompt")
        expected.negativePrompt = "blurry"; expected.steps = 9; expected.guidanceScale = 3; expected.sampler = "heun"
        expected.seed = .max; expected.width = 64; expected.height = 72; expected.count = 3; expected.format = "webp"
        expected.quality = 80; expected.clipSkip = 2; expected.strength = 0.25
        expected.loras = [LoRAChoice(name: "sks-dog", weight: 0.8), LoRAChoice(name: "style")]
        expected.decoder = "taesd"
        #expect(entry.spec == RenderSpec(request: expected, initImagePath: "prompts/start.png"))
        #expect(try parse("--init-image /abs/start.png x").first?.spec.initImagePath == "/abs/start.png")
    }

    @Test func quotedValues() throws {
        let entries = try parse("""
            --negative-prompt "blurry, low quality" a photo of sks dog
            --negative-prompt 'say "no"' --seed 3 prompt
            --negative-prompt "a \\"quoted\\" word, a \\\\ backslash" prompt
            --negative-prompt="" "a prompt in quotes"
            --negative-prompt= prompt
            """)
        #expect(entries.map(\.spec.request.negativePrompt) == ["blurry, low quality", "say \"no\"", "a \"quoted\" word, a \\ backslash", "", ""])
        #expect(entries[1].spec.request.seed == 3)
        #expect(entries[3].spec.request.prompt == "\"a prompt in quotes\"")  // the prompt is taken verbatim
    }

    @Test func doubleDashEndsTheOptions() throws {
        let entry = try #require(try parse("--seed 5 -- --ar 16:9 is not an option here").first)
        #expect(entry.spec.request.prompt == "--ar 16:9 is not an option here")
        #expect(entry.spec.request.seed == 5)
    }

    @Test func windowsLineEndingsAndBOM() throws {
        let entries = try parse("\u{FEFF}first\r\n\r\n# c\r\n--seed 2 second\r\n")
        #expect(entries.map(\.line) == [1, 4])
        #expect(entries.map(\.spec.request.prompt) == ["first", "second"])
    }

    @Test func errorsNameFileAndLine() {
        #expect(error("ok\n\n--sead 7 a dog")?.hasPrefix("batch.txt:3: unknown option --sead (a line may start with --negative-prompt") == true)
        #expect(error("--out x.png a dog") == "batch.txt:1: --out can only be given on the command line, not on a line")
        #expect(error("a\n--steps") == "batch.txt:2: --steps needs a value")
        #expect(error("--steps many a dog") == "batch.txt:1: --steps needs a whole number, got \"many\"")
        #expect(error("--seed -1 a dog") == "batch.txt:1: --seed needs a whole number from 0 to 18446744073709551615, got \"-1\"")
        #expect(error("--guidance nan a dog") == "batch.txt:1: --guidance needs a number, got \"nan\"")
        #expect(error("--negative-prompt \"open a dog") == "batch.txt:1: --negative-prompt: the quote \" is never closed")
        #expect(error("--negative-prompt \"a\"b dog") == "batch.txt:1: --negative-prompt: text right after the closing quote")
        #expect(error("# c\n--seed 4   ") == "batch.txt:2: no prompt after the options")
        #expect(error("--=3 dog")?.hasPrefix("batch.txt:1: unknown option --") == true)
        #expect(error("--lora sks:much dog") == "batch.txt:1: --lora needs NAME or NAME:WEIGHT, got \"sks:much\"")
    }

    @Test func jsonLines() throws {
        let entries = try PromptFile.parseJSONLines("""
            {"prompt": "a photo of sks dog", "seed": 9, "negative_prompt": "blurry"}

            # comment
            {"prompt": "on the beach", "guidance_scale": 4, "clip_skip": 2}
            """, file: "batch.jsonl", base: Self.base)
        #expect(entries.map(\.line) == [1, 4])
        #expect(entries[0].spec.request.seed == 9 && entries[0].spec.request.negativePrompt == "blurry")
        #expect(entries[0].spec.request.steps == 30)  // from the command line
        #expect(entries[1].spec.request.guidanceScale == 4 && entries[1].spec.request.clipSkip == 2 && entries[1].spec.request.seed == 1)
    }

    @Test func jsonLineInitImageReplacesTheCommandLineFile() throws {
        var base = Self.base
        base.initImagePath = "start.png"
        let entries = try PromptFile.parseJSONLines("{\"prompt\": \"a\"}\n{\"prompt\": \"b\", \"init_image\": \"AAAA\"}",
                                                    file: "b.jsonl", base: base)
        #expect(entries[0].spec.initImagePath == "start.png")
        #expect(entries[1].spec.initImagePath == nil && entries[1].spec.request.initImage == "AAAA")
    }

    @Test(arguments: [
        ("{\"prompt\": \"a\", \"sed\": 3}", "b.jsonl:1: unknown field \"sed\" (fields: "),
        ("{\"seed\": 3}", "b.jsonl:1: missing field \"prompt\""),
        ("{\"prompt\": \"a\", \"steps\": \"many\"}", "b.jsonl:1: field \"steps\" is not a Int"),
        ("[1, 2]", "b.jsonl:1: not a JSON object"),
        ("{\"prompt\": ", "b.jsonl:1: not a JSON object"),
    ])
    func jsonLineErrors(_ line: String, _ message: String) {
        do {
            _ = try PromptFile.parseJSONLines(line, file: "b.jsonl", base: Self.base)
            Issue.record("\(line) was accepted")
        } catch {
            #expect(error.description.hasPrefix(message), "\(error.description)")
        }
    }

    @Test func loadChecksInitImagesBeforeAnythingRuns() throws {
        let directory = try TemporaryDirectory()
        try Data("ok".utf8).write(to: directory.url("start.png"))
        try "--init-image start.png first\n--init-image missing.png second\n".write(to: directory.url("batch.txt"), atomically: true, encoding: .utf8)
        #expect(throws: ClientError.promptFile(file: directory.path("batch.txt"), line: 2,
                                               reason: "init image \(directory.path("missing.png")) does not exist or is not readable")) {
            try PromptFile.load(path: directory.path("batch.txt"), base: Self.base)
        }
        try "--init-image start.png first\n".write(to: directory.url("batch.txt"), atomically: true, encoding: .utf8)
        let entries = try PromptFile.load(path: directory.path("batch.txt"), base: Self.base)
        #expect(try entries[0].spec.resolvedRequest().initImage == Data("ok".utf8).base64EncodedString())
    }

    @Test func loadPicksTheFormatByExtension() throws {
        let directory = try TemporaryDirectory()
        try "{\"prompt\": \"json\"}\n".write(to: directory.url("b.JSONL"), atomically: true, encoding: .utf8)
        #expect(try PromptFile.load(path: directory.path("b.JSONL"), base: Self.base).first?.spec.request.prompt == "json")
        #expect(throws: ClientError.cannotRead(path: directory.path("none.txt"), reason: "no such file")) {
            try PromptFile.load(path: directory.path("none.txt"), base: Self.base)
        }
    }
}

/// A fresh folder under /tmp, removed when the value goes away.
final class TemporaryDirectory {
    let root: String

    init() throws {
        root = "/tmp/dbrender-client-test-\(UUID().uuidString.prefix(12))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: root) }

    func path(_ name: String) -> String { root + "/" + name }
    func url(_ name: String) -> URL { URL(fileURLWithPath: path(name)) }
    var names: [String] { ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted() }
}
