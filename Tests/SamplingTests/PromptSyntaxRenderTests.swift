// A1111 prompts in the render path: the request's prompt syntax, chunking of long prompts, and a
// prompt and negative prompt of different chunk counts in one guided UNet call. The encoding itself
// is checked against A1111 in ChunkedPromptEncodingTests; these tests check that rendering uses it.
// Weighted prompts use models/shapes: models/tiny's random text encoder ends in a layer norm with zero
// bias, so its chunk means are ~0 and A1111's mean restoration (0/0) is noise there, as in A1111.
@testable import Sampling
import Foundation
import Models
import Tensor
import Testing
import TestSupport

private let root = Fixtures.directory.deletingLastPathComponent().deletingLastPathComponent()
private let tiny = try! StableDiffusionPipeline.load(root.appendingPathComponent("models/tiny"))
private let shapes = try! StableDiffusionPipeline.load(root.appendingPathComponent("models/shapes"))

/// A prompt of `words` comma-separated words (CLIP tokens: each word and each comma is one).
private func longPrompt(words: Int) -> String {
    let vocabulary = ["red", "green", "blue", "circle", "square", "star", "triangle", "small", "large", "bright"]
    return (0..<words).map { vocabulary[$0 % vocabulary.count] }.joined(separator: ", ")
}

@Suite("Prompt syntax in rendering")
struct PromptSyntaxRenderTests {
    @Test("an unweighted prompt of at most 75 tokens is one chunk: diffusers' tokens and embedding")
    func shortPromptIsDiffusers() throws {
        var request = RenderRequest(prompt: "a photo of sks dog", seed: 0)
        request.negativePrompt = "blurry, low quality"
        let (positive, negative) = try tiny.encodePrompts(request)
        for (embedding, text) in [(positive, request.prompt), (negative, request.negativePrompt)] {
            let tokens = tiny.text.tokenize(text)
            #expect(embedding.chunks.chunks.map(\.tokens) == [tokens.ids])
            #expect(embedding.chunks.chunks[0].multipliers.allSatisfy { $0 == 1 })
            let diffusers = tiny.text.encoder([tokens.ids], clipSkip: 1)
            #expect(embedding.embedding.shape == diffusers.shape)
            #expect((0..<diffusers.count).allSatisfy { embedding.embedding.pointer[$0] == diffusers.pointer[$0] })
        }
    }

    @Test("a 200-token prompt is three chunks, not cut, and renders")
    func longPromptRenders() throws {
        var request = RenderRequest(prompt: longPrompt(words: 100), seed: 7)  // 100 words + 99 commas
        request.steps = 3
        request.width = 64; request.height = 64
        let (positive, negative) = try tiny.encodePrompts(request)
        #expect(positive.chunks.tokenCount == 199)
        #expect(positive.chunks.chunks.count == 3 && positive.embedding.shape == [1, 3 * 77, tiny.text.encoder.configuration.hiddenSize])
        #expect(negative.embedding.shape[1] == 77)
        let images = try tiny.render(request)
        #expect(images.count == 1 && images[0].image.width == 64)
        // The words past the first 75 tokens are read: dropping them changes the image.
        var cut = request
        cut.prompt = longPrompt(words: 38)  // 38 words + 37 commas: the first chunk only
        #expect(try tiny.render(cut)[0].image.pixels != images[0].image.pixels)
    }

    @Test("prompt and negative prompt of different chunk counts share one UNet call and give two separate passes' step")
    func differentChunkCounts() throws {
        var request = RenderRequest(prompt: longPrompt(words: 60), seed: 11)  // two chunks
        request.negativePrompt = "blurry"  // one
        request.sampler = "euler"
        request.steps = 4
        request.width = 64; request.height = 64
        let batched = try tiny.makeJobs(for: request)[0]
        tiny.denoiser.step([batched])

        // The same step as A1111 runs it: an unconditional pass and a conditional pass, each alone.
        let separate = try tiny.makeJobs(for: request)[0]
        let negative = try #require(separate.negative)
        #expect(separate.positive.shape[1] == 154 && negative.shape[1] == 77)
        let input = separate.scheduler.scaleModelInput(separate.latents, stepIndex: 0)
        let t = [separate.scheduler.timesteps[0]]
        let uncond = tiny.denoiser.unet(input, timesteps: t, context: negative)
        let cond = tiny.denoiser.unet(input, timesteps: t, context: separate.positive)
        let guided = Tensor(uninitialized: uncond.shape)
        for i in 0..<guided.count { guided.pointer[i] = uncond.pointer[i] + request.guidanceScale * (cond.pointer[i] - uncond.pointer[i]) }
        var scheduler = separate.scheduler
        let expected = scheduler.step(modelOutput: guided, stepIndex: 0, sample: separate.latents, generator: &separate.generator)
        // Bound: batching's own rounding (sgemm blocking follows the batch); a context read past its
        // length would move the step by percents.
        let d = difference(batched.latents, expected)
        #expect(d.relativeToScale < 1e-5, "\(d)")
    }

    @Test("A1111 syntax weights a prompt; plain reads its brackets as words")
    func syntax() throws {
        var weighted = RenderRequest(prompt: "a (red:1.4) star on a [blue] background", seed: 0)
        let a1111 = try shapes.encodePrompts(weighted).positive
        let runs = try PromptEmphasis(parsing: weighted.prompt).runs
        #expect(runs.map(\.weight).contains(1.4) && runs.map(\.text).joined() == "a red star on a blue background")
        #expect(Set(a1111.chunks.chunks[0].multipliers).isSuperset(of: [1, 1.4]))
        // Emphasis changes the conditioning (relative to the same words unweighted) …
        let unweighted = try shapes.encodePrompts(RenderRequest(prompt: "a red star on a blue background", seed: 0)).positive
        #expect(a1111.chunks.chunks[0].tokens == unweighted.chunks.chunks[0].tokens)
        #expect(difference(a1111.embedding, unweighted.embedding).relativeToScale > 1e-3)
        // … and "plain" takes the text as written: brackets, colon and number are tokens, weight 1.
        weighted.promptSyntax = .plain
        let plain = try shapes.encodePrompts(weighted).positive
        #expect(plain.chunks.chunks[0].tokens == shapes.text.tokenize(weighted.prompt).ids)
        #expect(plain.chunks.chunks[0].multipliers.allSatisfy { $0 == 1 })
    }

    @Test("a weight that is not a number is an error naming the prompt it is in")
    func invalidWeight() {
        var request = RenderRequest(prompt: "a (star:1.2.3)", seed: 0)
        #expect(throws: RenderError.invalidRequest(field: "prompt", message: "the prompt weight \"1.2.3\" in \"(…:1.2.3)\" is not a number")) {
            try tiny.encodePrompts(request)
        }
        request.prompt = "a star"
        request.negativePrompt = "(blur:1..5)"
        #expect(throws: RenderError.invalidRequest(field: "negative_prompt", message: "the prompt weight \"1..5\" in \"(…:1..5)\" is not a number")) {
            try tiny.encodePrompts(request)
        }
        request.promptSyntax = .plain  // the same text is words in plain syntax
        #expect(throws: Never.self) { try tiny.encodePrompts(request) }
    }
}
