// libpng, libwebp (+ mux for metadata chunks) and libjpeg-turbo, from Debian's -dev packages.
#include <stdio.h>
#include <png.h>
#include <webp/decode.h>
#include <webp/encode.h>
#include <webp/mux.h>
#include <jpeglib.h>
