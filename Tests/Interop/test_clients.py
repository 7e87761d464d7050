"""The clients users already have, unmodified, against a real dbrenderd (scripts/interop-test.sh starts
it on models/tiny with a TCP listener and an API key file, and passes where it is in the environment):

  - `webuiapi` (AUTOMATIC1111's API): txt2img, img2img, progress + interrupt, samplers, schedulers,
    models, options, auth failures;
  - `openai` (OpenAI's Images API): models, images.generate with and without stream + partial_images,
    errors mapped to the client's exception classes.

Only base_url / host / port and the credentials are set, as a user would.
"""
import base64
import io
import os
import threading
import time
import unittest

import openai
import webuiapi
from PIL import Image

HOST = "127.0.0.1"
PORT = int(os.environ["DBRENDER_PORT"])
BEARER = os.environ["DBRENDER_KEY"]
USER, PASSWORD = os.environ["DBRENDER_BASIC"].split(":", 1)


def a1111(**kwargs):
    return webuiapi.WebUIApi(host=HOST, port=PORT, username=USER, password=PASSWORD, **kwargs)


class WebUIApiClient(unittest.TestCase):
    def test_txt2img(self):
        api = a1111(sampler="DPM++ 2M", scheduler="Karras", steps=6)
        result = api.txt2img(prompt="a photo of (sks:1.2) dog", negative_prompt="blurry", seed=42, width=64, height=64,
                             cfg_scale=6.5, batch_size=2)
        self.assertEqual(len(result.images), 2)
        self.assertEqual(result.images[0].size, (64, 64))
        self.assertEqual(result.info["all_seeds"], [42, 43])
        self.assertEqual(result.info["sampler_name"], "DPM++ 2M")
        self.assertIn("Seed: 43", result.info["infotexts"][1])
        # The PNG carries the same infotext, in its "parameters" chunk, as A1111's do.
        self.assertEqual(result.images[0].info.get("parameters"), result.info["infotexts"][0])
        self.assertEqual(result.parameters["prompt"], "a photo of (sks:1.2) dog")

    def test_img2img_resizes_the_init_image(self):
        api = a1111(steps=8)
        init = Image.new("RGB", (40, 24), (200, 40, 40))
        result = api.img2img(images=[init], prompt="a red square", width=80, height=64, denoising_strength=0.6, seed=3)
        self.assertEqual(result.images[0].size, (80, 64))
        self.assertEqual(result.info["denoising_strength"], 0.6)
        self.assertIn("Denoising strength: 0.6", result.info["infotexts"][0])

    def test_progress_and_interrupt(self):
        api = a1111(steps=400)
        self.assertEqual(api.get_progress()["state"]["job_count"], 0)
        outcome = {}
        # 256 px: slow enough per step that the polls below see it running, even on a fast machine.
        worker = threading.Thread(target=lambda: outcome.setdefault("result", api.txt2img(prompt="a dog", width=256, height=256)))
        worker.start()
        deadline = time.time() + 300
        while True:
            progress = api.get_progress()
            if progress["state"]["sampling_step"] >= 2:
                break
            self.assertLess(time.time(), deadline, "the render never showed progress")
            time.sleep(0.05)
        self.assertEqual(progress["state"]["sampling_steps"], 400)
        self.assertGreater(progress["progress"], 0.0)
        api.interrupt()
        worker.join(300)
        result = outcome["result"]
        self.assertEqual(len(result.images), 1)
        self.assertLess(api.get_progress()["state"]["job_count"], 1)

    def test_samplers_schedulers_models_options(self):
        api = a1111()
        self.assertIn("Euler a", api.util_get_sampler_names())
        self.assertIn("Karras", [s["label"] for s in api.get_schedulers()])
        models = api.util_get_model_names()
        self.assertEqual(len(models), 1)
        self.assertTrue(models[0].startswith("tiny ["))
        self.assertEqual(api.util_get_current_model(), models[0])
        api.util_set_model(models[0])
        api.set_options({"CLIP_stop_at_last_layers": 2})
        self.assertEqual(api.get_options()["CLIP_stop_at_last_layers"], 2)
        api.set_options({"CLIP_stop_at_last_layers": 1})

    def test_errors(self):
        with self.assertRaises(RuntimeError) as raised:
            a1111().txt2img(prompt="x", restore_faces=True, width=64, height=64)
        self.assertEqual(raised.exception.args[0], 422)
        self.assertIn("restore_faces", raised.exception.args[1])
        wrong = webuiapi.WebUIApi(host=HOST, port=PORT, username=USER, password="wrong")
        with self.assertRaises(RuntimeError) as raised:
            wrong.txt2img(prompt="x", width=64, height=64)
        self.assertEqual(raised.exception.args[0], 401)


class OpenAIClient(unittest.TestCase):
    def client(self, key=BEARER):
        return openai.OpenAI(base_url=f"http://{HOST}:{PORT}/v1", api_key=key, max_retries=0)

    def test_models(self):
        self.assertEqual([m.id for m in self.client().models.list()], ["tiny"])

    def test_generate(self):
        result = self.client().images.generate(model="tiny", prompt="a red circle", n=2, size="64x64", quality="low")
        self.assertEqual(len(result.data), 2)
        for item in result.data:
            image = Image.open(io.BytesIO(base64.b64decode(item.b64_json)))
            self.assertEqual((image.format, image.size), ("PNG", (64, 64)))
        self.assertEqual(result.size, "64x64")

    def test_generate_streaming_with_partial_images(self):
        stream = self.client().images.generate(model="tiny", prompt="a green star", size="64x64", stream=True,
                                               partial_images=2, output_format="webp")
        events = list(stream)
        self.assertEqual([e.type for e in events],
                         ["image_generation.partial_image", "image_generation.partial_image", "image_generation.completed"])
        self.assertEqual([e.partial_image_index for e in events[:2]], [0, 1])
        for event in events:
            image = Image.open(io.BytesIO(base64.b64decode(event.b64_json)))
            self.assertEqual((image.format, image.size), ("WEBP", (64, 64)))

    def test_jpeg_output(self):
        result = self.client().images.generate(model="tiny", prompt="a blue square", size="64x64", output_format="jpeg",
                                               output_compression=90)
        image = Image.open(io.BytesIO(base64.b64decode(result.data[0].b64_json)))
        self.assertEqual((image.format, image.size), ("JPEG", (64, 64)))
        # The infotext sits in EXIF UserComment (tag 0x9286 of the Exif IFD), as A1111 writes it.
        comment = image.getexif().get_ifd(0x8769).get(0x9286)
        self.assertTrue(comment.startswith(b"UNICODE\x00"))
        self.assertIn("Steps: ", comment[8:].decode("utf-16-be"))

    def test_errors(self):
        with self.assertRaises(openai.AuthenticationError):
            self.client(key="not-a-key").images.generate(prompt="x", size="64x64")
        with self.assertRaises(openai.BadRequestError) as raised:
            self.client().images.generate(prompt="x", size="64x64", response_format="url")
        self.assertEqual(raised.exception.body["param"], "response_format")
        with self.assertRaises(openai.BadRequestError) as raised:
            self.client().images.generate(prompt="x", size="100x100")
        self.assertEqual(raised.exception.body["param"], "size")


if __name__ == "__main__":
    unittest.main(verbosity=2)
