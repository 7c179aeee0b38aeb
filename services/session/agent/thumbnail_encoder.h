// Screen images to small JPEGs for the dashboard: a scaled-down copy of the screen (each output
// pixel the mean of the 2x2 source pixels at the centre of its area: a tenth of the reads of a
// full box filter at 1024 -> 320, and 1-pixel patterns still come out grey rather than
// aliased), compressed with libturbojpeg at the highest quality that fits the size limit. No X
// here: the grabber hands in pixels.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mp::agent {

// Which source rows changed from one grab to the next, for the last kKept grabs: a stream that
// last looked a few grabs ago scales only those rows again.
class ChangedRows {
 public:
  static constexpr std::uint64_t kKept = 16;
  // Grab `version` read rows [top, bottom) anew (an empty span: none).
  void record(std::uint64_t version, int top, int bottom);
  // The rows that changed after version `seen` up to `now` (an empty span if none); false if
  // that is not known any more (or `seen` is 0): then everything may have.
  bool since(std::uint64_t seen, std::uint64_t now, int* top, int* bottom) const;

 private:
  struct Span {
    std::uint64_t version = 0;
    int top = 0;
    int bottom = 0;
  };
  std::array<Span, kKept> spans_{};
};

// 32-bit pixels as X servers keep them on little-endian machines: bytes B, G, R, unused.
struct ScreenImage {
  int width = 0;
  int height = 0;
  std::size_t stride = 0;  // bytes per row
  const std::uint8_t* pixels = nullptr;
  // Grows whenever the pixels may have changed since the last grab; 0: unknown (look anyway).
  std::uint64_t version = 0;
  const ChangedRows* changes = nullptr;  // when the grabber knows; else every row may differ
};

struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> rgb;  // width * height * 3, rows top to bottom
};

// `source` scaled to `width` (never up) keeping its proportions; the height is at least 1.
void scale_to_width(const ScreenImage& source, int width, RgbImage* out);
// Scales again only the output rows that read source rows [top, bottom): `out` was scaled from
// a screen of the same size. True if any output byte changed (so no hash of the picture is
// needed to tell whether it is new).
bool scale_rows(const ScreenImage& source, int top, int bottom, RgbImage* out);

class JpegEncoder {
 public:
  JpegEncoder();
  ~JpegEncoder();
  JpegEncoder(const JpegEncoder&) = delete;
  JpegEncoder& operator=(const JpegEncoder&) = delete;

  // Compresses at `quality` (1..100, 4:2:0). Empty on failure (logged).
  std::string encode(const RgbImage& image, int quality);

 private:
  void* handle_ = nullptr;  // tjhandle
};

// Encodes at `*quality`, lowering it in steps of 10 (not below 15) until the JPEG fits in
// `max_bytes`, and raises `*quality` again by 5 (up to 80) when there is room to spare, so a
// stream settles on what its screen allows. Empty if even the lowest quality does not fit.
std::string encode_within(JpegEncoder& encoder, const RgbImage& image, std::size_t max_bytes,
                          int* quality);

}  // namespace mp::agent
