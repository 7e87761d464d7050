# Fixture images for Tests/ImageIOTests, written by PIL (the library A1111 saves and reads with), and a
# check that PIL reads back the metadata our encoder writes.
#
# Run from the repository root with the project venv (needs Pillow and numpy):
#
#   /work/venv/bin/python Tests/Fixtures/make_image_fixtures.py
#       Writes Tests/Fixtures/images/: small (16x12) inputs in every layout the decoders must handle, each
#       with <name>.rgb beside it — the raw 8-bit RGB pixels ImageIO must decode it to (alpha composited
#       over white with the integer formula of RGBImage.swift) — plus a1111_infotext.txt, the infotext
#       embedded A1111-style in a1111_parameters.{png,jpg,webp}.
#
#   IMAGEIO_PIL_CHECK_DIR=/tmp/pilcheck swift test --scratch-path .build-imageio --filter exportForPILCheck
#   /work/venv/bin/python Tests/Fixtures/make_image_fixtures.py --check /tmp/pilcheck
#       The Swift test writes PNG and WebP files with parameters through ImageFile.write, and <name>.txt
#       with the text it embedded; this mode opens each image with PIL and compares what A1111's
#       read_info_from_image would find: info["parameters"] for PNG, EXIF UserComment for WebP (decoded as
#       piexif.helper.UserComment.load does, and with piexif itself when it is installed).
import os
import struct
import sys
import zlib

import numpy as np
from PIL import Image, PngImagePlugin

WIDTH, HEIGHT = 16, 12
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "images")

# A real A1111 infotext (v1.9 style: separate "Schedule type", quoted multi-value fields, multi-line prompt).
A1111_INFOTEXT = (
    "a photo of sks dog, (on the beach:1.2), golden hour\n"
    "highly detailed\n"
    "Negative prompt: blurry, lowres, (bad anatomy:1.1)\n"
    "Steps: 30, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 7.5, Seed: 3456789012, "
    "Size: 512x768, Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Denoising strength: 0.35, "
    'Lora hashes: "sksdog: 0123456789ab, style: ba9876543210", Version: v1.9.4'
)


def pattern():
    """A 16x12 RGB pattern that exercises every channel value range."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    r = (x * 17) % 256
    g = (y * 23) % 256
    b = (x * y * 7 + 40) % 256
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def smooth():
    """A smooth image: JPEG and lossy WebP reproduce it without ringing."""
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    r = 40 + x * 10
    g = 60 + y * 12
    b = 200 - x * 4 - y * 5
    return np.stack([r, g, b], axis=-1).astype(np.uint8)


def alpha_pattern():
    y, x = np.mgrid[0:HEIGHT, 0:WIDTH]
    return ((x * 16 + y * 5) % 256).astype(np.uint8)


def over_white(rgb, alpha):
    """(c*a + 255*(255-a) + 127) // 255, as RGBImage.init(compositingOverWhite:) computes it."""
    c = rgb.astype(np.int64)
    a = alpha.astype(np.int64)[..., None]
    return ((c * a + 255 * (255 - a) + 127) // 255).astype(np.uint8)


def save_expected(name, rgb):
    assert rgb.shape == (HEIGHT, WIDTH, 3) and rgb.dtype == np.uint8
    with open(os.path.join(OUT, name + ".rgb"), "wb") as f:
        f.write(rgb.tobytes())


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def write_png16(path, rgb16):
    """16-bit RGB PNG by hand: PIL cannot write 16-bit colour PNGs."""
    h, w, _ = rgb16.shape
    raw = b"".join(b"\x00" + rgb16[row].astype(">u2").tobytes() for row in range(h))
    data = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, 2, 0, 0, 0))
            + png_chunk(b"IDAT", zlib.compress(raw)) + png_chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(data)


def exif_user_comment_a1111(text):
    """The bytes of piexif.dump({"Exif": {UserComment: UserComment.dump(text, encoding="unicode")}}), which A1111
    writes (checked equal with piexif 1.1.3): big-endian TIFF, IFD0 with only the Exif IFD pointer, an Exif IFD
    with only UserComment = "UNICODE\\0" + UTF-16BE — and, a piexif quirk, no next-IFD offset after the Exif
    IFD, so the comment starts at offset 40."""
    comment = b"UNICODE\x00" + text.encode("utf_16_be")
    tiff = b"MM\x00\x2a" + struct.pack(">I", 8)
    tiff += struct.pack(">H", 1) + struct.pack(">HHII", 0x8769, 4, 1, 26) + struct.pack(">I", 0)
    tiff += struct.pack(">H", 1) + struct.pack(">HHII", 0x9286, 7, len(comment), 40)
    return b"Exif\x00\x00" + tiff + comment


def make_fixtures():
    os.makedirs(OUT, exist_ok=True)
    rgb = pattern()
    alpha = alpha_pattern()

    Image.fromarray(rgb, "RGB").save(os.path.join(OUT, "png_rgb.png"))
    save_expected("png_rgb", rgb)

    rgba = np.dstack([rgb, alpha])
    Image.fromarray(rgba, "RGBA").save(os.path.join(OUT, "png_rgba.png"))
    save_expected("png_rgba", over_white(rgb, alpha))

    gray = rgb[..., 1]
    Image.fromarray(gray, "L").save(os.path.join(OUT, "png_gray.png"))
    save_expected("png_gray", np.repeat(gray[..., None], 3, axis=-1))

    # 16-bit: low bytes are not a copy of the high bytes, so truncation and rounding would differ; the
    # expected value is the exact rounding of v * 255 / 65535.
    rgb16 = rgb.astype(np.uint32) * 257 + (np.arange(WIDTH * HEIGHT * 3).reshape(HEIGHT, WIDTH, 3) * 37) % 200
    rgb16 = np.minimum(rgb16, 65535).astype(np.uint16)
    write_png16(os.path.join(OUT, "png_rgb16.png"), rgb16)
    save_expected("png_rgb16", np.floor(rgb16.astype(np.float64) * 255 / 65535 + 0.5).astype(np.uint8))

    # Palette with a transparent entry (tRNS), as GIF-converted uploads often are.
    palette = [(0, 0, 0), (255, 0, 0), (0, 200, 0), (10, 20, 250), (128, 128, 128), (250, 250, 0)]
    indices = ((np.mgrid[0:HEIGHT, 0:WIDTH][1] // 3 + np.mgrid[0:HEIGHT, 0:WIDTH][0]) % len(palette)).astype(np.uint8)
    image = Image.fromarray(indices, "P")
    image.putpalette([c for colour in palette for c in colour])
    image.save(os.path.join(OUT, "png_palette.png"), transparency=bytes([255, 255, 255, 128, 255, 0]))
    palette_rgb = np.array(palette, dtype=np.uint8)[indices]
    palette_alpha = np.array([255, 255, 255, 128, 255, 0], dtype=np.uint8)[indices]
    save_expected("png_palette", over_white(palette_rgb, palette_alpha))

    # JPEG: expected values are PIL's own decode (libjpeg-turbo too); the test allows ±2 for other IDCTs.
    for name, options in [("jpeg_baseline", {}), ("jpeg_progressive", {"progressive": True})]:
        path = os.path.join(OUT, name + ".jpg")
        Image.fromarray(smooth(), "RGB").save(path, quality=92, **options)
        save_expected(name, np.asarray(Image.open(path).convert("RGB")))
    path = os.path.join(OUT, "jpeg_gray.jpg")
    Image.fromarray(smooth()[..., 0], "L").save(path, quality=92)
    save_expected("jpeg_gray", np.asarray(Image.open(path).convert("RGB")))
    # CMYK: must be refused as unsupported, so no expected pixels.
    Image.fromarray(smooth(), "RGB").convert("CMYK").save(os.path.join(OUT, "jpeg_cmyk.jpg"), quality=92)

    Image.fromarray(rgb, "RGB").save(os.path.join(OUT, "webp_lossless.webp"), lossless=True)
    save_expected("webp_lossless", rgb)
    Image.fromarray(rgba, "RGBA").save(os.path.join(OUT, "webp_rgba.webp"), lossless=True, exact=True)
    save_expected("webp_rgba", over_white(rgb, alpha))
    path = os.path.join(OUT, "webp_lossy.webp")
    Image.fromarray(smooth(), "RGB").save(path, quality=90)
    save_expected("webp_lossy", np.asarray(Image.open(path).convert("RGB")))

    # A1111-style files with parameters: PNG via PngInfo.add_text, JPEG and WebP with piexif's EXIF layout.
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", A1111_INFOTEXT)
    Image.fromarray(rgb, "RGB").save(os.path.join(OUT, "a1111_parameters.png"), pnginfo=info)
    exif = exif_user_comment_a1111(A1111_INFOTEXT)
    Image.fromarray(rgb, "RGB").save(os.path.join(OUT, "a1111_parameters.webp"), lossless=True, exif=exif)
    Image.fromarray(smooth(), "RGB").save(os.path.join(OUT, "a1111_parameters.jpg"), quality=92, exif=exif)
    with open(os.path.join(OUT, "a1111_infotext.txt"), "w", encoding="utf-8", newline="") as f:
        f.write(A1111_INFOTEXT)
    print("wrote", sorted(os.listdir(OUT)))


def user_comment_piexif_style(data):
    """piexif.helper.UserComment.load, with A1111's fallback for an unknown character code."""
    prefix, body = data[:8], data[8:]
    codes = {b"ASCII\x00\x00\x00": "ascii", b"JIS\x00\x00\x00\x00\x00": "shift_jis", b"UNICODE\x00": "utf_16_be"}
    if prefix in codes:
        return body.decode(codes[prefix], errors="replace")
    return data.decode("utf8", errors="ignore")


def check(directory):
    try:
        import piexif
        import piexif.helper
    except ImportError:
        piexif = None
    failures = 0
    names = sorted(f for f in os.listdir(directory) if f.endswith((".png", ".webp")))
    if not names:
        sys.exit(f"no .png or .webp files in {directory}")
    for name in names:
        path = os.path.join(directory, name)
        with open(os.path.splitext(path)[0] + ".txt", encoding="utf-8", newline="") as f:
            expected = f.read()
        image = Image.open(path)
        image.load()
        readers = {}
        if name.endswith(".png"):
            readers['PIL info["parameters"]'] = image.info.get("parameters")
        else:
            comment = image.getexif().get_ifd(0x8769).get(0x9286)
            readers["PIL getexif UserComment"] = None if comment is None else user_comment_piexif_style(comment)
            if piexif is not None:
                exif = piexif.load(image.info["exif"])
                readers["piexif (A1111's reader)"] = piexif.helper.UserComment.load(exif["Exif"][piexif.ExifIFD.UserComment])
        for reader, text in readers.items():
            ok = text == expected
            failures += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {name}: {reader}" + ("" if ok else f": {text!r} != {expected!r}"))
    if piexif is None:
        print("(piexif not installed: checked WebP with PIL only)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--check":
        check(sys.argv[2])
    elif len(sys.argv) == 1:
        make_fixtures()
    else:
        sys.exit("usage: make_image_fixtures.py [--check DIR]")
