// Thumbnails without a display: scaling, JPEG within a size limit, and the streams' leases,
// intervals and unchanged-screen rule on a real reactor with a scripted screen.
#include <gtest/gtest.h>
#include <turbojpeg.h>

#include <random>

#include "mp/bus/frame.h"
#include "thumbnail_encoder.h"
#include "thumbnail_streams.h"

namespace mp::agent {
namespace {

using namespace std::chrono_literals;

// A BGRX screen whose pixels the test sets.
struct TestScreen {
  TestScreen(int w, int h) : width(w), height(h), bytes(std::size_t(w) * h * 4) {}
  void fill(std::uint32_t rgb, int x0 = 0, int x1 = -1) {
    if (x1 < 0) x1 = width;
    for (int y = 0; y < height; ++y) {
      for (int x = x0; x < x1; ++x) set(x, y, rgb);
    }
  }
  void set(int x, int y, std::uint32_t rgb) {
    auto* p = &bytes[(std::size_t(y) * width + x) * 4];
    p[0] = rgb & 0xff;
    p[1] = (rgb >> 8) & 0xff;
    p[2] = (rgb >> 16) & 0xff;
    p[3] = 0;
  }
  void noise(unsigned seed) {
    std::mt19937 random(seed);
    for (auto& b : bytes) b = static_cast<std::uint8_t>(random());
  }
  ScreenImage image() const {
    return {
        .width = width, .height = height, .stride = std::size_t(width) * 4, .pixels = bytes.data()};
  }
  int width, height;
  std::vector<std::uint8_t> bytes;
};

std::uint32_t rgb_at(const RgbImage& image, int x, int y) {
  const auto* p = &image.rgb[(std::size_t(y) * image.width + x) * 3];
  return (std::uint32_t(p[0]) << 16) | (p[1] << 8) | p[2];
}

// Decodes a JPEG; its size, and the pixel in the middle of its left and right halves.
struct Decoded {
  int width = 0, height = 0;
  std::uint32_t left = 0, right = 0, top = 0;  // at half height (a quarter in), a fifth down
};
Decoded decode(const std::string& jpeg) {
  tjhandle handle = tjInitDecompress();
  Decoded out;
  int subsampling = 0, colourspace = 0;
  EXPECT_EQ(tjDecompressHeader3(handle, reinterpret_cast<const unsigned char*>(jpeg.data()),
                                jpeg.size(), &out.width, &out.height, &subsampling, &colourspace),
            0);
  std::vector<unsigned char> rgb(std::size_t(out.width) * out.height * 3);
  EXPECT_EQ(tjDecompress2(handle, reinterpret_cast<const unsigned char*>(jpeg.data()), jpeg.size(),
                          rgb.data(), out.width, 0, out.height, TJPF_RGB, 0),
            0);
  tjDestroy(handle);
  auto at = [&](int x, int y) {
    const auto* p = &rgb[(std::size_t(y) * out.width + x) * 3];
    return (std::uint32_t(p[0]) << 16) | (p[1] << 8) | p[2];
  };
  out.left = at(out.width / 4, out.height / 2);
  out.right = at(out.width * 3 / 4, out.height / 2);
  out.top = at(out.width / 2, out.height / 5);
  return out;
}

bool near(std::uint32_t a, std::uint32_t b, int tolerance = 12) {
  for (int shift : {0, 8, 16}) {
    if (std::abs(int((a >> shift) & 0xff) - int((b >> shift) & 0xff)) > tolerance) return false;
  }
  return true;
}

TEST(ThumbnailScaleTest, KeepsProportionsAndColours) {
  TestScreen screen(1024, 768);
  screen.fill(0xC62828, 0, 512);
  screen.fill(0x1565C0, 512, 1024);
  RgbImage out;
  scale_to_width(screen.image(), 320, &out);
  EXPECT_EQ(out.width, 320);
  EXPECT_EQ(out.height, 240);
  EXPECT_EQ(rgb_at(out, 10, 120), 0xC62828u);
  EXPECT_EQ(rgb_at(out, 310, 120), 0x1565C0u);
  EXPECT_EQ(rgb_at(out, 159, 0), 0xC62828u);
  EXPECT_EQ(rgb_at(out, 160, 239), 0x1565C0u);
}

TEST(ThumbnailScaleTest, NeverScalesUpAndKeepsAtLeastOneRow) {
  TestScreen small(200, 100);
  small.fill(0x00FF00);
  RgbImage out;
  scale_to_width(small.image(), 320, &out);
  EXPECT_EQ(out.width, 200);
  EXPECT_EQ(out.height, 100);
  TestScreen strip(4000, 2);
  strip.fill(0x0000FF);
  scale_to_width(strip.image(), 320, &out);
  EXPECT_EQ(out.height, 1);
  EXPECT_EQ(rgb_at(out, 0, 0), 0x0000FFu);
}

TEST(ThumbnailScaleTest, OnePixelPatternsComeOutGreyNotAliased) {
  // A 1-pixel checkerboard and 1-pixel stripes, scaled by 4 and by 3.2 (1024 -> 320).
  for (int width : {1280, 1024}) {
    TestScreen checker(width, width * 3 / 4), stripes(width, width * 3 / 4);
    for (int y = 0; y < checker.height; ++y) {
      for (int x = 0; x < checker.width; ++x) {
        checker.set(x, y, (x + y) % 2 ? 0xFFFFFF : 0);
        stripes.set(x, y, x % 2 ? 0xFFFFFF : 0);
      }
    }
    RgbImage out;
    for (const auto* screen : {&checker, &stripes}) {
      scale_to_width(screen->image(), 320, &out);
      for (int x : {0, 101, 202, 319}) {
        EXPECT_EQ(rgb_at(out, x, 100), 0x808080u) << "source " << width << " x " << x;
      }
    }
  }
}

TEST(ThumbnailEncodeTest, FitsTheLimitByLoweringQuality) {
  TestScreen busy(1024, 768);
  busy.noise(7);
  RgbImage image;
  scale_to_width(busy.image(), 320, &image);
  JpegEncoder encoder;
  int quality = 80;
  std::string unlimited = encoder.encode(image, quality);
  ASSERT_GT(unlimited.size(), 10240u) << "noise compresses too well to test the limit";
  // Noise at 320x240 does not fit 1.5 KB even at the lowest quality: refused, quality lowest.
  std::string within = encode_within(encoder, image, 1536, &quality);
  EXPECT_TRUE(within.empty());
  EXPECT_EQ(quality, 15);
  // A limit it can meet: met, below the first quality.
  quality = 80;
  within = encode_within(encoder, image, unlimited.size() * 2 / 3, &quality);
  ASSERT_FALSE(within.empty());
  EXPECT_LE(within.size(), unlimited.size() * 2 / 3);
  EXPECT_LT(quality, 80);
}

TEST(ThumbnailEncodeTest, PlainScreenDecodesToItsColoursAndRaisesQuality) {
  TestScreen screen(1024, 768);
  screen.fill(0xC62828, 0, 512);
  screen.fill(0x1565C0, 512, 1024);
  RgbImage image;
  scale_to_width(screen.image(), 320, &image);
  JpegEncoder encoder;
  int quality = 50;
  std::string jpeg = encode_within(encoder, image, 10240, &quality);
  ASSERT_FALSE(jpeg.empty());
  EXPECT_LE(jpeg.size(), 10240u);
  EXPECT_EQ(quality, 55);  // far under the limit: a better picture next time
  Decoded d = decode(jpeg);
  EXPECT_EQ(d.width, 320);
  EXPECT_EQ(d.height, 240);
  EXPECT_TRUE(near(d.left, 0xC62828)) << std::hex << d.left;
  EXPECT_TRUE(near(d.right, 0x1565C0)) << std::hex << d.right;
}

TEST(ChangedRowsTest, KnowsTheRowsSinceARecentGrabOnly) {
  ChangedRows rows;
  int top = -1, bottom = -1;
  EXPECT_FALSE(rows.since(0, 0, &top, &bottom)) << "version 0: nothing is known";
  rows.record(1, 0, 768);
  rows.record(2, 700, 720);
  rows.record(3, 0, 0);
  rows.record(4, 10, 20);
  ASSERT_TRUE(rows.since(1, 4, &top, &bottom));
  EXPECT_EQ(top, 10);
  EXPECT_EQ(bottom, 720);
  ASSERT_TRUE(rows.since(2, 3, &top, &bottom));
  EXPECT_EQ(bottom - top, 0) << "version 3 changed nothing";
  ASSERT_TRUE(rows.since(4, 4, &top, &bottom));
  EXPECT_EQ(bottom - top, 0);
  for (std::uint64_t v = 5; v < 5 + ChangedRows::kKept; ++v) rows.record(v, 1, 2);
  EXPECT_FALSE(rows.since(4, 4 + ChangedRows::kKept, &top, &bottom)) << "forgotten";
  EXPECT_TRUE(rows.since(5, 4 + ChangedRows::kKept, &top, &bottom));
}

TEST(ThumbnailEncodeTest, ScalingOnlyTheChangedRowsGivesTheWholePictureScaledAgain) {
  TestScreen screen(1024, 768);
  screen.noise(7);
  RgbImage partly;
  scale_to_width(screen.image(), 320, &partly);
  for (int y = 300; y < 340; ++y) {
    for (int x = 0; x < 1024; ++x) screen.set(x, y, 0x6A1B9A);
  }
  EXPECT_TRUE(scale_rows(screen.image(), 300, 340, &partly));
  EXPECT_FALSE(scale_rows(screen.image(), 300, 340, &partly)) << "nothing new the second time";
  RgbImage whole;
  scale_to_width(screen.image(), 320, &whole);
  EXPECT_TRUE(partly.rgb == whole.rgb);
  // Too narrow a span misses rows: the comparison above can tell.
  for (int y = 300; y < 340; ++y) {
    for (int x = 0; x < 16; ++x) screen.set(x, y, 0xFFFFFF);
  }
  scale_rows(screen.image(), 320, 321, &partly);
  scale_to_width(screen.image(), 320, &whole);
  EXPECT_FALSE(partly.rgb == whole.rgb);
}

class ThumbnailStreamsTest : public ::testing::Test {
 protected:
  ThumbnailStreamsTest()
      : streams_(
            reactor_,
            [this](ScreenImage* image) {
              ++grabs_;
              if (!grab_works_) return false;
              *image = screen_.image();
              image->version = version_;
              if (version_ != 0 && track_rows_) {
                changes_.record(version_, changed_top_, changed_bottom_);
                image->changes = &changes_;
              }
              return true;
            },
            [this](const mp::bus::Build& body) {
              if (!connected_) return false;
              mp::bus::Outgoing out;
              body(out.envelope());
              auto decoded = mp::bus::Incoming::decode(out.to_frame(), mp::bus::Limits{});
              auto t = decoded->envelope().getAgentThumbnail();
              sent_.push_back({t.getStream(), t.getWidth(), t.getHeight(), t.getJpeg().size(),
                               std::string(reinterpret_cast<const char*>(t.getJpeg().begin()),
                                           t.getJpeg().size())});
              return true;
            }) {
    screen_.fill(0x2E7D32);
  }

  void request(std::uint8_t stream, std::uint32_t interval_ms, std::uint16_t width,
               std::uint32_t lease_ms, std::uint32_t max_bytes = 10240) {
    capnp::MallocMessageBuilder message;
    auto r = message.initRoot<mp::schema::AgentThumbnailRequest>();
    r.setStream(stream);
    r.setIntervalMs(interval_ms);
    r.setWidth(width);
    r.setMaxBytes(max_bytes);
    r.setLeaseMs(lease_ms);
    streams_.request(r.asReader());
  }
  void run_for(std::chrono::milliseconds duration) {
    reactor_.run_until([] { return false; }, duration);
  }

  struct Sent {
    std::uint8_t stream;
    int width, height;
    std::size_t bytes;
    std::string jpeg;
  };
  TestScreen screen_{640, 480};
  bool grab_works_ = true;
  bool connected_ = true;
  std::uint64_t version_ = 0;  // what the grabber says; 0: it cannot tell
  bool track_rows_ = false;
  ChangedRows changes_;
  int changed_top_ = 0, changed_bottom_ = 480;
  int grabs_ = 0;
  std::vector<Sent> sent_;
  mp::bus::Reactor reactor_;
  ThumbnailStreams streams_;
};

TEST_F(ThumbnailStreamsTest, FirstImageAtOnceThenOnlyWhenTheScreenChanges) {
  request(0, 100, 320, 5000);
  ASSERT_EQ(sent_.size(), 1u);
  EXPECT_EQ(sent_[0].width, 320);
  EXPECT_EQ(sent_[0].height, 240);
  EXPECT_LE(sent_[0].bytes, 10240u);
  run_for(450ms);
  EXPECT_GE(grabs_, 4);
  EXPECT_EQ(sent_.size(), 1u) << "an unchanged screen was sent again";
  EXPECT_GE(streams_.counters().unchanged, 3u);
  screen_.fill(0xC62828, 0, 320);
  run_for(250ms);
  EXPECT_EQ(sent_.size(), 2u);
}

TEST_F(ThumbnailStreamsTest, AScreenTheGrabberSawUnchangedIsNotEvenScaledButEachStreamSeesAChange) {
  version_ = 1;
  request(0, 100, 320, 5000);
  request(1, 100, 160, 5000);
  ASSERT_EQ(sent_.size(), 2u);
  run_for(450ms);
  EXPECT_EQ(sent_.size(), 2u);
  EXPECT_GE(streams_.counters().not_looked, 6u);
  // The grabber says "new" but the pixels are the same: looked at, still not sent.
  ++version_;
  run_for(150ms);
  EXPECT_EQ(sent_.size(), 2u);
  // Changed once: both streams send it, though only one grab after the other saw the change.
  screen_.fill(0xC62828, 0, 320);
  ++version_;
  run_for(250ms);
  EXPECT_EQ(sent_.size(), 4u);
  // The grabber cannot tell (0): the streams compare the pictures themselves.
  auto not_looked = streams_.counters().not_looked;
  version_ = 0;
  run_for(250ms);
  EXPECT_EQ(streams_.counters().not_looked, not_looked);
  EXPECT_EQ(sent_.size(), 4u);
}

TEST_F(ThumbnailStreamsTest, OnlyTheChangedRowsAreScaledAgainAndThePictureIsStillRight) {
  track_rows_ = true;
  version_ = 1;
  request(0, 100, 320, 5000);
  ASSERT_EQ(sent_.size(), 1u);
  // A band across the middle changes; the grabber says so.
  for (int y = 200; y < 260; ++y) {
    for (int x = 0; x < 640; ++x) screen_.set(x, y, 0x6A1B9A);
  }
  changed_top_ = 200;
  changed_bottom_ = 260;
  ++version_;
  run_for(150ms);
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_GE(streams_.counters().partly_scaled, 1u);
  Decoded picture = decode(sent_.back().jpeg);
  EXPECT_TRUE(near(picture.left, 0x6A1B9A)) << std::hex << picture.left;
  EXPECT_TRUE(near(picture.right, 0x6A1B9A)) << std::hex << picture.right;
  EXPECT_TRUE(near(picture.top, 0x2E7D32)) << std::hex << picture.top;
}

TEST_F(ThumbnailStreamsTest, EndsWhenTheLeaseIsNotRenewedAndRenewalKeepsItGoing) {
  request(0, 100, 320, 300);
  run_for(500ms);
  EXPECT_FALSE(streams_.active(0));
  int grabs = grabs_;
  screen_.fill(0x1565C0);
  run_for(300ms);
  EXPECT_EQ(grabs_, grabs) << "grabbing after the lease ended";

  request(0, 100, 320, 300);
  for (int i = 0; i < 5; ++i) {
    run_for(150ms);
    request(0, 100, 320, 300);  // a renewal: same parameters, no image at once
  }
  EXPECT_TRUE(streams_.active(0));
  request(0, 100, 320, 0);
  EXPECT_FALSE(streams_.active(0));
}

TEST_F(ThumbnailStreamsTest, StreamsAreIndependentAndChangedParametersTakeEffect) {
  request(0, 100, 320, 5000);
  request(1, 100, 600, 5000, 65536);
  ASSERT_EQ(sent_.size(), 2u);
  EXPECT_EQ(sent_[1].stream, 1);
  EXPECT_EQ(sent_[1].width, 600);
  request(0, 100, 160, 5000);  // changed: a new first image at the new size
  ASSERT_EQ(sent_.size(), 3u);
  EXPECT_EQ(sent_[2].width, 160);
  EXPECT_EQ(sent_[2].height, 120);
}

TEST_F(ThumbnailStreamsTest, RefusesOutOfBoundsAndShrinksWhatCannotFit) {
  request(5, 100, 320, 5000);
  request(0, 100, 320, 3600 * 1000);
  EXPECT_EQ(streams_.counters().refused, 2u);
  EXPECT_TRUE(sent_.empty());
  screen_.noise(3);
  request(0, 100, 1920, 5000, 1024);  // noise in 1 KB: shrinks until it fits
  run_for(1500ms);
  EXPECT_GE(streams_.counters().too_large, 1u);
  ASSERT_FALSE(sent_.empty());
  EXPECT_LE(sent_.back().bytes, 1024u);
  EXPECT_LT(sent_.back().width, 640);
}

TEST_F(ThumbnailStreamsTest, NothingIsLostWhenGrabOrSendFail) {
  grab_works_ = false;
  request(0, 100, 320, 5000);
  run_for(250ms);
  EXPECT_TRUE(sent_.empty());
  EXPECT_GE(streams_.counters().grab_failed, 2u);
  grab_works_ = true;
  connected_ = false;
  run_for(250ms);
  EXPECT_GE(streams_.counters().not_sent, 1u);
  connected_ = true;
  run_for(250ms);
  EXPECT_EQ(sent_.size(), 1u) << "the image that could not go is sent once mp-session is back";
}

}  // namespace
}  // namespace mp::agent
