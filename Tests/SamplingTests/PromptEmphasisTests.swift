// A1111's emphasis syntax against A1111's own parser (fixture: make_prompt_emphasis_fixtures.py, which
// runs modules/prompt_parser.py's parse_prompt_attention): every run's text and weight equal, the
// weights bit for bit (the same products in the same order), and the prompts A1111 raises on are
// errors here that name the weight.
import Foundation
import Testing
import TestSupport
@testable import Sampling

private struct EmphasisCase: Sendable, CustomTestStringConvertible {
    let prompt: String
    /// nil when A1111 raises.
    let runs: [PromptEmphasis.Run]?
    var testDescription: String { "\"\(prompt)\"" }
}

private let cases: [EmphasisCase] = {
    let url = Fixtures.packageRoot.appendingPathComponent("Tests/Fixtures/prompt_emphasis.json")
    let root = (try? JSONSerialization.jsonObject(with: Data(contentsOf: url))) as? [String: Any]
    let entries = root?["cases"] as? [[String: Any]] ?? []
    return entries.map { entry in
        let runs = (entry["runs"] as? [[Any]])?.map { pair in
            PromptEmphasis.Run(text: pair[0] as? String ?? "?", weight: (pair[1] as? String).flatMap(Double.init) ?? .nan)
        }
        return EmphasisCase(prompt: entry["prompt"] as? String ?? "", runs: runs)
    }
}()

@Suite("Prompt syntax: A1111 emphasis")
struct PromptEmphasisTests {
    @Test("the fixture holds the cases (escapes, nesting, unbalanced brackets, BREAK, bad weights)")
    func fixtureLoads() {
        #expect(cases.count >= 40)
        #expect(cases.filter { $0.runs == nil }.count == 2)
        #expect(cases.contains { $0.runs?.contains(where: \.isBreak) == true })
    }

    @Test("runs and weights equal A1111's parse_prompt_attention, bit for bit", arguments: cases)
    fileprivate func matchesA1111(_ c: EmphasisCase) throws {
        guard let expected = c.runs else {
            #expect(throws: PromptEmphasis.InvalidWeight.self) { try PromptEmphasis(parsing: c.prompt) }
            return
        }
        let parsed = try PromptEmphasis(parsing: c.prompt)
        #expect(parsed.runs.map(\.text) == expected.map(\.text))
        // Exact: the same multiplications in the same order give the same doubles (1.5730000000000004 …).
        #expect(parsed.runs.map(\.weight) == expected.map(\.weight))
    }

    @Test("a weight that is not a number is an error that names it")
    func invalidWeight() throws {
        #expect(throws: PromptEmphasis.InvalidWeight(weight: "1.2.3")) { try PromptEmphasis(parsing: "a (b:1.2.3) c") }
        #expect("\(PromptEmphasis.InvalidWeight(weight: "1.2.3"))" == "the prompt weight \"1.2.3\" in \"(…:1.2.3)\" is not a number")
        // Outside brackets the same text is only text, as in A1111.
        #expect(try PromptEmphasis(parsing: "b:1.2.3)").runs == [.init(text: "b:1.2.3)", weight: 1)])
    }
}
