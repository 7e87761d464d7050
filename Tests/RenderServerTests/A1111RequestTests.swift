// A1111 requests without a daemon: sampler and schedule names (A1111 1.9+'s pairs and the legacy
// combined names), the defaults of an empty body, the full payload `webuiapi` sends by default, and the
// refusal of each field that would change the image.
import Foundation
import Testing
@testable import RenderServer

@Suite("A1111 requests")
struct A1111RequestTests {
    private let model = A1111ModelNames(path: "/models/shapes", sha256: String(repeating: "ab", count: 32))

    private func translate(_ fields: [String: Any], _ kind: A1111Request.Kind = .textToImage) throws -> A1111Request.Translation {
        try A1111Request(kind: kind, json: JSONSerialization.data(withJSONObject: fields)).translate(options: A1111Options(), model: model, textEncoderLayers: 12)
    }

    private func refusal(_ fields: [String: Any]) -> A1111Request.Invalid? {
        do { _ = try translate(fields); return nil } catch { return error as? A1111Request.Invalid }
    }

    @Test("sampler names: pairs, legacy combined names, Automatic, aliases; unknown and unsupported ones are named")
    func samplers() throws {
        let cases: [(String, String?, String, String)] = [
            ("Euler a", nil, "euler_a", "Automatic"), ("Euler a", "Automatic", "euler_a", "Automatic"),
            ("Euler", "automatic", "euler", "Automatic"), ("DPM++ 2M", nil, "dpmpp_2m_karras", "Automatic"),
            ("DPM++ 2M", "Karras", "dpmpp_2m_karras", "Automatic"), ("DPM++ 2M", "Uniform", "dpmpp_2m", "Uniform"),
            ("DPM++ 2M Karras", nil, "dpmpp_2m_karras", "Automatic"), ("DPM++ 2M Uniform", "Karras", "dpmpp_2m", "Uniform"),
            ("k_dpmpp_2m", "uniform", "dpmpp_2m", "Uniform"), ("DDIM", nil, "ddim", "Automatic"), ("PLMS", nil, "pndm", "Automatic"),
            ("LMS", nil, "lms", "Automatic"), ("Heun", nil, "heun", "Automatic"), ("LCM", nil, "lcm", "Automatic"),
        ]
        for (name, schedule, ours, label) in cases {
            let choice = try A1111Samplers.resolve(samplerName: name, scheduler: schedule)
            #expect(choice.sampler == ours && choice.scheduleLabel == label, "\(name) / \(schedule ?? "nil") → \(choice)")
        }
        #expect(throws: (any Error).self) { try A1111Samplers.resolve(samplerName: "DPM++ SDE", scheduler: nil) }
        do { _ = try A1111Samplers.resolve(samplerName: "UniPC", scheduler: nil) } catch {
            #expect(error.isUnknownSampler && error.message.contains("UniPC") && error.message.contains("Euler a"))
        }
        do { _ = try A1111Samplers.resolve(samplerName: "Euler", scheduler: "Karras") } catch {
            #expect(!error.isUnknownSampler && error.field == "scheduler" && error.message.contains("Euler runs here with the Uniform schedule"))
        }
        do { _ = try A1111Samplers.resolve(samplerName: "Euler", scheduler: "Exponential") } catch {
            #expect(error.field == "scheduler" && error.message.contains("Exponential") == false && error.message.contains("exponential"))
        }
        do { _ = try A1111Samplers.resolve(samplerName: "Euler", scheduler: "wobbly") } catch {
            #expect(error.field == "scheduler" && error.message.contains("unknown scheduler 'wobbly'"))
        }
        // Every sampler we list maps to one of ours and back.
        for sampler in A1111Samplers.samplers {
            for ours in sampler.ours.values { #expect(A1111Samplers.a1111Names(of: ours)?.sampler == sampler.name) }
        }
    }

    @Test("an empty txt2img body takes A1111's defaults")
    func defaults() throws {
        let t = try translate([:])
        #expect(t.body.prompt == "" && t.body.negativePrompt == "" && t.body.steps == 50 && t.body.guidanceScale == 7)
        #expect(t.body.width == 512 && t.body.height == 512 && t.body.count == 1 && t.body.seed == nil)
        #expect(t.body.sampler == "euler" && t.sampler.displayName == "Euler")  // sampler_index "Euler"
        #expect(t.body.clipSkip == 1 && t.body.format == "png" && t.body.previewEvery == 10 && t.sendImages)
    }

    @Test("webuiapi's default txt2img payload is accepted: every field it sends is at an off value")
    func webuiapiPayload() throws {
        // webuiapi 0.9.17's WebUIApi.txt2img(prompt=…, seed=5) payload, as it sends it.
        let payload: [String: Any] = [
            "enable_hr": false, "hr_scale": 2, "hr_upscaler": "Latent", "hr_second_pass_steps": 0, "hr_resize_x": 0,
            "hr_resize_y": 0, "hr_checkpoint_name": NSNull(), "hr_sampler_name": NSNull(), "hr_scheduler": NSNull(),
            "hr_prompt": "", "hr_negative_prompt": "", "denoising_strength": 0.7, "firstphase_width": 0, "firstphase_height": 0,
            "prompt": "a red circle", "styles": [String](), "seed": 5, "subseed": -1, "subseed_strength": 0.0,
            "seed_resize_from_h": 0, "seed_resize_from_w": 0, "batch_size": 2, "n_iter": 3, "steps": 20, "cfg_scale": 7.0,
            "width": 64, "height": 64, "restore_faces": false, "tiling": false, "do_not_save_samples": false,
            "do_not_save_grid": false, "negative_prompt": "", "eta": 1.0, "s_churn": 0, "s_tmax": 0, "s_tmin": 0, "s_noise": 1,
            "override_settings": [String: Any](), "override_settings_restore_afterwards": true, "sampler_name": "Euler a",
            "scheduler": "automatic", "sampler_index": "Euler a", "script_name": NSNull(), "script_args": [Any](),
            "send_images": true, "save_images": false, "alwayson_scripts": [String: Any](),
        ]
        let t = try translate(payload)
        #expect(t.body.sampler == "euler_a" && t.body.seed == 5 && t.body.count == 6 && t.batchSize == 2 && t.iterations == 3)
        #expect(t.body.steps == 20 && t.body.width == 64 && t.body.eta == nil)
    }

    @Test("each field that would change the image is refused by name")
    func refusals() {
        let cases: [([String: Any], String)] = [
            (["styles": ["cinematic"]], "styles"), (["restore_faces": true], "restore_faces"), (["tiling": true], "tiling"),
            (["enable_hr": true], "enable_hr"), (["subseed_strength": 0.3], "subseed_strength"),
            (["seed_resize_from_w": 256], "seed_resize_from_w"), (["script_name": "x/y/z plot"], "script_name"),
            (["alwayson_scripts": ["controlnet": ["args": []]]], "alwayson_scripts"), (["mask": "abc"], "mask"),
            (["sampler_name": "Euler", "s_churn": 0.5], "s_churn"), (["sampler_name": "Euler a", "eta": 0.5], "eta"),
            (["override_settings": ["sd_model_checkpoint": "other.safetensors"]], "override_settings.sd_model_checkpoint"),
            (["override_settings": ["eta_noise_seed_delta": 31337]], "override_settings.eta_noise_seed_delta"),
            (["override_settings": ["samples_format": "gif"]], "override_settings.samples_format"),
            (["steps": "many"], "steps"), (["seed": -7], "seed"), (["batch_size": 0], "batch_size"),
            (["infotext": "a dog\nSteps: 20"], "infotext"), (["initial_noise_multiplier": 0.9], "initial_noise_multiplier"),
        ]
        for (fields, field) in cases {
            let refused = refusal(fields)
            #expect(refused?.field == field, "\(fields): \(String(describing: refused))")
        }
        // What is harmless passes: s_churn with a sampler that ignores it, the loaded model, its hash.
        #expect(refusal(["sampler_name": "DPM++ 2M", "s_churn": 0.5]) == nil)
        #expect(refusal(["override_settings": ["sd_model_checkpoint": "shapes [0123456789]"]]) != nil)  // another hash
        #expect(refusal(["override_settings": ["sd_model_checkpoint": model.title, "CLIP_stop_at_last_layers": 2, "jpeg_quality": 90]]) == nil)
        #expect(refusal(["unknown_extension_field": 12]) == nil)  // A1111's pydantic models ignore unknown names too
    }

    @Test("override settings and DDIM's eta reach the request")
    func overrides() throws {
        let t = try translate(["override_settings": ["CLIP_stop_at_last_layers": 2, "samples_format": "webp"], "sampler_name": "DDIM", "eta": 0.4])
        #expect(t.body.clipSkip == 2 && t.body.format == "webp" && t.body.sampler == "ddim" && t.body.eta == 0.4)
    }
}
