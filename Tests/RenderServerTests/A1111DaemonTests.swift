// AUTOMATIC1111's API on the real daemon (models/tiny, curl on the Unix socket): txt2img gives the
// bytes our own API gives for the same settings, with A1111's info; progress, interrupt, options,
// samplers, models; img2img resizes its init image; errors in A1111's shapes.
import Foundation
import ImageIO
import RenderAPI
import Testing
import TestSupport

@Suite("dbrenderd's A1111 API", .serialized)
struct A1111DaemonTests {
    private func body(_ fields: [String: Any]) -> String {
        String(decoding: try! JSONSerialization.data(withJSONObject: fields), as: UTF8.self)
    }

    private func object(_ response: DaemonProcess.Response) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: response.body) as? [String: Any], "\(response.text)")
    }

    @Test("txt2img: the images of our own API for the same settings, A1111's info, seeds seed + i")
    func textToImage() throws {
        let daemon = try DaemonProcess()
        defer { daemon.stop() }
        let response = try daemon.request("POST", "/sdapi/v1/txt2img", json: body([
            "prompt": "a photo of (sks:1.2) dog", "negative_prompt": "blurry", "seed": 42, "steps": 4, "width": 64, "height": 64,
            "batch_size": 2, "sampler_name": "DPM++ 2M", "scheduler": "Karras", "cfg_scale": 6.5,
            "override_settings": ["CLIP_stop_at_last_layers": 2],
        ]))
        #expect(response.status == 200, "\(response.text.prefix(300))")
        let answer = try object(response)
        let images = try #require(answer["images"] as? [String])
        let infoText = try #require(answer["info"] as? String)
        let info = try #require(try JSONSerialization.jsonObject(with: Data(infoText.utf8)) as? [String: Any])
        #expect(images.count == 2 && info["all_seeds"] as? [Int] == [42, 43] && info["seed"] as? Int == 42)
        #expect(info["sampler_name"] as? String == "DPM++ 2M" && info["clip_skip"] as? Int == 2 && info["steps"] as? Int == 4)
        #expect(info["sd_model_name"] as? String == "tiny" && (info["sd_model_hash"] as? String)?.count == 10)
        let infotexts = try #require(info["infotexts"] as? [String])
        #expect(infotexts.count == 2 && infotexts[0].contains("Seed: 42") && infotexts[1].contains("Seed: 43") && infotexts[0].contains("Clip skip: 2"))
        #expect((answer["parameters"] as? [String: Any])?["prompt"] as? String == "a photo of (sks:1.2) dog")
        // Our API with the same settings: the same PNG bytes (the infotext inside included).
        let ours = try daemon.request("POST", "/v1/renders", json: body([
            "prompt": "a photo of (sks:1.2) dog", "negative_prompt": "blurry", "seed": 42, "steps": 4, "width": 64, "height": 64,
            "count": 2, "sampler": "dpmpp_2m_karras", "guidance_scale": 6.5, "clip_skip": 2,
        ])).decode(RenderResponseBody.self)
        #expect(ours.images.map(\.data) == images)
        let png = try #require(Data(base64Encoded: images[0]))
        #expect(try ImageFile.decode(png).parameters == infotexts[0])
    }

    @Test("A1111's other routes: samplers, schedulers, sd-models, options read and written, loras, idle progress")
    func otherRoutes() throws {
        let daemon = try DaemonProcess()
        defer { daemon.stop() }
        let samplers = try #require(try JSONSerialization.jsonObject(with: daemon.request("GET", "/sdapi/v1/samplers").body) as? [[String: Any]])
        #expect(samplers.compactMap { $0["name"] as? String } == ["DPM++ 2M", "Euler a", "Euler", "LMS", "Heun", "DDIM", "PLMS", "LCM"])
        let schedulers = try #require(try JSONSerialization.jsonObject(with: daemon.request("GET", "/sdapi/v1/schedulers").body) as? [[String: Any]])
        #expect(schedulers.compactMap { $0["label"] as? String } == ["Automatic", "Uniform", "Karras"])
        let models = try #require(try JSONSerialization.jsonObject(with: daemon.request("GET", "/sdapi/v1/sd-models").body) as? [[String: Any]])
        let title = try #require(models.first?["title"] as? String)
        #expect(models.count == 1 && title.hasPrefix("tiny [") && models[0]["model_name"] as? String == "tiny")
        var options = try object(daemon.request("GET", "/sdapi/v1/options"))
        #expect(options["sd_model_checkpoint"] as? String == title && options["CLIP_stop_at_last_layers"] as? Int == 1)
        #expect(try daemon.request("POST", "/sdapi/v1/options", json: body(["CLIP_stop_at_last_layers": 2, "sd_model_checkpoint": title])).status == 200)
        options = try object(daemon.request("GET", "/sdapi/v1/options"))
        #expect(options["CLIP_stop_at_last_layers"] as? Int == 2)
        let refused = try daemon.request("POST", "/sdapi/v1/options", json: body(["sd_model_checkpoint": "sd_xl_base.safetensors"]))
        #expect(refused.status == 422 && refused.text.contains("sd_model_checkpoint"), "\(refused.text)")
        // The option reaches renders: clip skip 2 in the info.
        let render = try object(daemon.request("POST", "/sdapi/v1/txt2img", json: body(["prompt": "x", "steps": 1, "width": 64, "height": 64])))
        #expect((render["info"] as? String)?.contains("\"clip_skip\":2") == true)
        #expect(try daemon.request("GET", "/sdapi/v1/loras").text == "[]")
        let progress = try object(daemon.request("GET", "/sdapi/v1/progress"))
        #expect(progress["progress"] as? Double == 0 && (progress["state"] as? [String: Any])?["job_count"] as? Int == 0)
        #expect(try daemon.request("GET", "/sdapi/v1/nothing").status == 404)
        #expect(try daemon.request("GET", "/sdapi/v1/txt2img").status == 405)
    }

    @Test("errors as A1111 gives them: 422 with detail naming the field, 404 for an unknown sampler")
    func errors() throws {
        let daemon = try DaemonProcess()
        defer { daemon.stop() }
        let invalid = try daemon.request("POST", "/sdapi/v1/txt2img", json: body(["prompt": "x", "cfg_scale": 80]))
        let invalidAnswer = try object(invalid)
        let detail = try #require(invalidAnswer["detail"] as? [[String: Any]])
        #expect(invalid.status == 422 && detail.first?["loc"] as? [String] == ["body", "cfg_scale"], "\(invalid.text)")
        let faces = try daemon.request("POST", "/sdapi/v1/txt2img", json: body(["prompt": "x", "restore_faces": true]))
        #expect(faces.status == 422 && faces.text.contains("restore_faces"))
        let sampler = try daemon.request("POST", "/sdapi/v1/txt2img", json: body(["prompt": "x", "sampler_name": "DPM++ SDE"]))
        let samplerAnswer = try object(sampler)
        #expect(sampler.status == 404 && samplerAnswer["detail"] as? String != nil && sampler.text.contains("Sampler not found"))
        #expect(try daemon.request("POST", "/sdapi/v1/txt2img", json: "{nope").status == 422)
        #expect(try daemon.request("POST", "/sdapi/v1/txt2img", json: body(["prompt": "still serving", "steps": 1, "width": 64, "height": 64])).status == 200)
    }

    @Test("interrupt: the running txt2img stops within a step and answers its image; progress reported it running")
    func interrupt() throws {
        let daemon = try DaemonProcess()
        defer { daemon.stop() }
        // 256 px: slow enough per step that the polls below see it running, even on a fast machine.
        let (_, wait) = try daemon.start("POST", "/sdapi/v1/txt2img", json: body(["prompt": "a dog", "steps": 400, "width": 256, "height": 256]))
        var running: [String: Any] = [:]
        try waitUntil {
            running = try object(daemon.request("GET", "/sdapi/v1/progress"))
            // Past step 10: the first live preview (every 10 steps by default) is there.
            return ((running["state"] as? [String: Any])?["sampling_step"] as? Int ?? 0) >= 11
        }
        let state = try #require(running["state"] as? [String: Any])
        #expect(state["job_count"] as? Int == 1 && state["sampling_steps"] as? Int == 400)
        #expect((running["progress"] as? Double ?? 0) > 0.01 && running["current_image"] is String, "a preview every 10 steps: \(running.keys)")
        #expect(try daemon.request("POST", "/sdapi/v1/interrupt").text == "{}")
        let answer = try wait()
        #expect(answer.status == 200, "\(answer.text.prefix(200))")
        let images = try #require((try object(answer))["images"] as? [String])
        let width = try ImageFile.decode(Data(base64Encoded: images[0])!).image.width
        #expect(images.count == 1 && width == 256)
        let metrics = try daemon.request("GET", "/metrics").text
        #expect(metricValue(metrics, "dbrender_image_steps_total") < 400, "the render did not stop early")
    }

    @Test("img2img: A1111's defaults and a data-URL init image of another size, resized to width × height")
    func imageToImage() throws {
        let daemon = try DaemonProcess()
        defer { daemon.stop() }
        let source = RGBImage(width: 40, height: 24, red: 200, green: 40, blue: 40)
        let init64 = "data:image/png;base64," + (try ImageFile.encode(source, format: .png)).base64EncodedString()
        let response = try daemon.request("POST", "/sdapi/v1/img2img", json: body([
            "init_images": [init64], "prompt": "a red square", "steps": 10, "width": 80, "height": 64, "seed": 3,
        ]))
        #expect(response.status == 200, "\(response.text.prefix(300))")
        let answer = try object(response)
        let image = try ImageFile.decode(Data(base64Encoded: (answer["images"] as! [String])[0])!)
        #expect(image.image.width == 80 && image.image.height == 64)
        #expect(image.parameters?.contains("Denoising strength: 0.75") == true, "\(image.parameters ?? "")")
        let parameters = try #require(answer["parameters"] as? [String: Any])
        #expect(parameters["init_images"] is NSNull)  // include_init_images false
        let missing = try daemon.request("POST", "/sdapi/v1/img2img", json: body(["prompt": "x"]))
        #expect(missing.status == 422 && missing.text.contains("init_images"))
    }

    private func metricValue(_ text: String, _ name: String) -> Double {
        text.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.split(separator: " ")[1]) } ?? -1
    }
}
