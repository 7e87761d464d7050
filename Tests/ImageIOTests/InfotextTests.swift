// A1111 infotext: rendering as create_infotext does, parsing as parse_generation_parameters does.
import Testing
@testable import ImageIO

@Suite struct InfotextTests {
    let basic = GenerationParameters(
        prompt: "a photo of sks dog", negativePrompt: "blurry", steps: 30, sampler: "euler_a", cfgScale: 7.5,
        seed: 42, width: 512, height: 512, modelHash: "abcdef1234", modelName: "sks-dog-v1")

    @Test func rendersA1111Layout() {
        #expect(basic.infotext == """
            a photo of sks dog
            Negative prompt: blurry
            Steps: 30, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 512x512, Model hash: abcdef1234, \
            Model: sks-dog-v1
            """)
    }

    @Test func omitsEmptyNegativePromptAndPrintsWholeCFGAsPythonFloat() throws {
        var parameters = basic
        parameters.negativePrompt = ""
        parameters.cfgScale = 7
        parameters.modelHash = nil
        parameters.modelName = nil
        #expect(parameters.infotext == "a photo of sks dog\nSteps: 30, Sampler: Euler a, CFG scale: 7.0, Seed: 42, Size: 512x512")
        #expect(try GenerationParameters(infotext: parameters.infotext) == parameters)
    }

    @Test func quotesValuesWithCommasColonsAndNewlinesAsJSON() {
        #expect(Infotext.quote("plain value") == "plain value")
        #expect(Infotext.quote("a: 1, b: 2") == "\"a: 1, b: 2\"")
        #expect(Infotext.quote("say \"hi\", \\o/") == #""say \"hi\", \\o/""#)
        #expect(Infotext.quote("two\nlines") == #""two\nlines""#)
        #expect(Infotext.quote("tab\there, \u{01}") == #""tab\there, \u0001""#)
        #expect(Infotext.quote("ünïcødé, 犬") == "\"ünïcødé, 犬\"")  // ensure_ascii=False: no \u escapes
        for value in ["a: 1, b: 2", "say \"hi\", \\o/", "two\nlines", "tab\there, \u{01}", "ünïcødé, 犬 🐕"] {
            #expect(Infotext.unquote(Infotext.quote(value)) == value)
        }
        #expect(Infotext.unquote(#""\ud83d\udc15""#) == "🐕")
        #expect(Infotext.unquote(#""broken \x""#) == #""broken \x""#)  // invalid JSON stays as it is
    }

    @Test func roundTripsQuotedExtrasAndMultiLinePrompts() throws {
        var parameters = basic
        parameters.prompt = "a photo of sks dog\non the beach, (sunset:1.2)\n\nwith blank line"
        parameters.negativePrompt = "blurry\nlowres, \"bad\""
        parameters.extra = [
            .init("Denoising strength", "0.75"),
            .init("Lora hashes", "sksdog: 0123456789ab, style: ba9876543210"),
            .init("Note", "quote \" and backslash \\, and\nnewline"),
            .init("Version", "dbrender 0.1"),
        ]
        let text = parameters.infotext
        #expect(text.split(separator: "\n").last!.contains(#"Lora hashes: "sksdog: 0123456789ab, style: ba9876543210""#))
        #expect(try GenerationParameters(infotext: text) == parameters)
    }

    @Test func parsesARealA1111Infotext() throws {
        let text = String(decoding: TestImages.fixtureData("a1111_infotext.txt"), as: UTF8.self)
        let parameters = try GenerationParameters(infotext: text)
        #expect(parameters.prompt == "a photo of sks dog, (on the beach:1.2), golden hour\nhighly detailed")
        #expect(parameters.negativePrompt == "blurry, lowres, (bad anatomy:1.1)")
        #expect(parameters.steps == 30)
        #expect(parameters.sampler == "dpmpp_2m_karras")  // "DPM++ 2M" + "Schedule type: Karras"
        #expect(parameters.cfgScale == 7.5)
        #expect(parameters.seed == 3_456_789_012)
        #expect(parameters.width == 512 && parameters.height == 768)
        #expect(parameters.modelHash == "6ce0161689")
        #expect(parameters.modelName == "v1-5-pruned-emaonly")
        #expect(parameters.extra == [
            .init("Denoising strength", "0.35"),
            .init("Lora hashes", "sksdog: 0123456789ab, style: ba9876543210"),
            .init("Version", "v1.9.4"),
        ])
    }

    @Test func parsesTheOlderA1111Layout() throws {
        // The example in A1111's parse_generation_parameters docstring (integer CFG, 8-digit model hash).
        let text = """
            girl with an artist's beret, determined, blue eyes, desert scene, computer monitors, heavy makeup, \
            by Alphonse Mucha and Charlie Bowater, ((eyeshadow)), (coquettish), detailed, intricate
            Negative prompt: ugly, fat, obese, chubby, (((deformed))), [blurry], bad anatomy, disfigured
            Steps: 20, Sampler: Euler a, CFG scale: 7, Seed: 965400086, Size: 512x512, Model hash: 45dee52b
            """
        let parameters = try GenerationParameters(infotext: text)
        #expect(parameters.prompt.hasPrefix("girl with an artist's beret") && parameters.prompt.hasSuffix("intricate"))
        #expect(parameters.negativePrompt.hasPrefix("ugly, fat") && parameters.negativePrompt.hasSuffix("disfigured"))
        #expect(parameters.sampler == "euler_a" && parameters.cfgScale == 7 && parameters.seed == 965_400_086)
        #expect(parameters.modelHash == "45dee52b" && parameters.modelName == nil && parameters.extra.isEmpty)
    }

    @Test func followsA1111LineRules() {
        // A last line with fewer than three fields belongs to the prompt.
        let short = Infotext(parsing: "a cat\nStyle: noir, Mood: dark")
        #expect(short.prompt == "a cat\nStyle: noir, Mood: dark" && short.fields.isEmpty)
        // Lines are stripped, leading blank lines vanish, inner ones stay, CRLF is split like "\n" + "\r".
        let messy = Infotext(parsing: "\n  first  \r\n\nsecond\nNegative prompt:   neg  \nAa: 1, Bb: 2, Cc: 3")
        #expect(messy.prompt == "first\n\nsecond")
        #expect(messy.negativePrompt == "neg")
        #expect(messy.fields == [.init("Aa", "1"), .init("Bb", "2"), .init("Cc", "3")])
        // Keys need two characters at least (A1111's `\w[\w \-/]+`): "A: 1" is not a field.
        #expect(Infotext(parsing: "p\nA: 1, B: 2, C: 3").fields.isEmpty)
        // A1111 drops a field with an empty value and keeps a value with an escaped quote whole.
        let odd = Infotext(parsing: #"p\nSteps: 20, Empty: , Quoted: "a \"b\", c", Seed: 1"#.replacingOccurrences(of: "\\n", with: "\n"))
        #expect(odd.fields == [.init("Steps", "20"), .init("Quoted", "a \"b\", c"), .init("Seed", "1")])
    }

    @Test func mapsSamplerNamesBothWays() {
        let expected = ["ddim": "DDIM", "pndm": "PLMS", "euler": "Euler", "euler_a": "Euler a",
                        "dpmpp_2m": "DPM++ 2M", "dpmpp_2m_karras": "DPM++ 2M Karras", "heun": "Heun", "lms": "LMS"]
        for (name, display) in expected {
            #expect(SamplerDisplayNames.displayName(of: name) == display)
            #expect(SamplerDisplayNames.name(ofDisplayName: display) == name)
        }
        #expect(SamplerDisplayNames.name(ofDisplayName: "DPM++ 2M", scheduleType: "Karras") == "dpmpp_2m_karras")
        #expect(SamplerDisplayNames.name(ofDisplayName: "Euler a", scheduleType: "Automatic") == "euler_a")
        #expect(SamplerDisplayNames.name(ofDisplayName: "DPM++ SDE") == nil)
        #expect(SamplerDisplayNames.displayName(of: "DPM++ SDE") == "DPM++ SDE")
    }

    @Test func keepsUnknownSamplersAndUnusedScheduleTypes() throws {
        let text = "p\nSteps: 20, Sampler: DPM++ SDE, Schedule type: Exponential, CFG scale: 5.5, Seed: 7, Size: 64x64"
        let parameters = try GenerationParameters(infotext: text)
        #expect(parameters.sampler == "DPM++ SDE")
        #expect(parameters.extra == [.init("Schedule type", "Exponential")])
        #expect(parameters.infotext == "p\nSteps: 20, Sampler: DPM++ SDE, CFG scale: 5.5, Seed: 7, Size: 64x64, Schedule type: Exponential")
    }

    @Test func reportsMissingAndInvalidFields() {
        #expect(throws: InfotextError.missingField("Seed")) {
            try GenerationParameters(infotext: "p\nSteps: 20, Sampler: Euler, CFG scale: 7, Size: 64x64")
        }
        #expect(throws: InfotextError.invalidValue(field: "Size", value: "big")) {
            try GenerationParameters(infotext: "p\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: 1, Size: big")
        }
        #expect(throws: InfotextError.invalidValue(field: "Seed", value: "-1")) {
            try GenerationParameters(infotext: "p\nSteps: 20, Sampler: Euler, CFG scale: 7, Seed: -1, Size: 8x8")
        }
    }
}
