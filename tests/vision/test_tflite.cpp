// The real MobileNet v2 (uint8 TFLite, ../shared/data/models) read by our FlatBuffer parser and run by our
// float interpreter. Reference: LiteRT 2.3.0 (ai-edge-litert from PyPI, the TFLite runtime with its integer
// kernels) on the same input (PIL bilinear resize to 224x224), measured once and recorded here:
//   grace_hopper military uniform 0.922, cat Egyptian cat 0.789, bird chickadee 0.988, dog German shepherd
//   0.277, parrot macaw 0.996, owl ruffed grouse 0.664, hot_dog hotdog 0.887.
// Our run dequantizes the weights to float and, with fake quantization, rounds every op's output to its
// tensor's uint8 grid; TFLite's integer kernels differ by their fixed-point rounding, so probabilities
// agree within 0.03 (a few quantization steps of 1/256) and the top-1 class is the same.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>

#include "core/base/error.h"
#include "core/image/image.h"
#include "models/vision/labels.h"
#include "models/vision/tflite.h"

namespace pj::vision {
namespace {

const std::string kShared = PJ_SHARED_DIR;
const std::string kModel = kShared + "/data/models/mobilenet_v2_1.0_224_quant.tflite";

TEST(Tflite, ParsesMobileNetV2) {
  const TfliteModel m(kModel);
  EXPECT_EQ(m.ops().size(), 66u);
  EXPECT_EQ(m.tensors().size(), 174u);
  const TfliteTensor& in = m.tensors()[size_t(m.inputs()[0])];
  EXPECT_EQ(in.shape, (std::vector<int>{1, 224, 224, 3}));
  EXPECT_EQ(in.type, int(TfliteType::uint8));
  ASSERT_EQ(in.scale.size(), 1u);
  EXPECT_FLOAT_EQ(in.scale[0], 0.0078125f);
  EXPECT_EQ(in.zero_point[0], 128);
  EXPECT_EQ(m.tensors()[size_t(m.outputs()[0])].shape, (std::vector<int>{1, 1001}));
  int conv = 0, dw = 0;
  for (const auto& op : m.ops()) {
    conv += op.builtin == 3;
    dw += op.builtin == 4;
  }
  EXPECT_EQ(conv, 36);
  EXPECT_EQ(dw, 17);
}

struct Case {
  const char* image;
  const char* label;  // LiteRT's top-1
  float prob;         // LiteRT's top-1 probability
};

TEST(Tflite, MobileNetClassifiesLikeLiteRT) {
  const TfliteModel m(kModel);
  const auto labels = read_labels(kShared + "/data/labels/imagenet_labels_1001.txt");
  ASSERT_EQ(labels.size(), 1001u);
  KernelContext ctx;
  const Case cases[] = {{"grace_hopper.bmp", "military uniform", 0.922f}, {"cat.bmp", "Egyptian cat", 0.789f},
                        {"bird.bmp", "chickadee", 0.988f},
                        {"dog.jpg", "German shepherd, German shepherd dog, German police dog, alsatian", 0.277f},
                        {"parrot.jpg", "macaw", 0.996f}, {"hot_dog.jpg", "hotdog, hot dog, red hot", 0.887f}};
  for (bool fake_quant : {true, false}) {
    TfliteInterpreter it(m, fake_quant);
    for (const Case& c : cases) {
      const image::Image img = image::resize(image::load(kShared + "/data/images/" + c.image), 224, 224,
                                             image::Filter::bilinear);
      const std::vector<float> p = it.run_quantized(ctx, img.rgb);
      ASSERT_EQ(p.size(), 1001u);
      const int top = int(std::max_element(p.begin(), p.end()) - p.begin());
      std::printf("[ tflite ] %s fake_quant=%d: %s %.3f (LiteRT %.3f)\n", c.image, int(fake_quant),
                  labels[size_t(top)].c_str(), p[size_t(top)], c.prob);
      EXPECT_EQ(labels[size_t(top)], c.label) << c.image;
      EXPECT_NEAR(p[size_t(top)], c.prob, 0.03) << c.image;
    }
  }
}

TEST(Tflite, CorruptFilesGiveErrors) {
  const std::string dir = testing::TempDir();
  std::ifstream in(kModel, std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto write = [&](const std::string& name, size_t n) {
    const std::string p = dir + "/" + name;
    std::ofstream(p, std::ios::binary).write(bytes.data(), std::streamsize(n));
    return p;
  };
  EXPECT_THROW(TfliteModel(write("short.tflite", 6)), Error);
  EXPECT_THROW(TfliteModel(write("half.tflite", bytes.size() / 2)), Error);
  // Flip bytes of the root table offset and vtables: must be an Error (or a model that still parses), never a crash.
  for (size_t at : {size_t(0), size_t(1), size_t(2), size_t(3), size_t(8), size_t(20), size_t(40)}) {
    std::vector<char> copy = bytes;
    copy[at] = char(copy[at] ^ 0x7f);
    const std::string p = dir + "/flip.tflite";
    std::ofstream(p, std::ios::binary).write(copy.data(), std::streamsize(copy.size()));
    try {
      TfliteModel mm(p);
    } catch (const Error&) {
    }
  }
  EXPECT_THROW(TfliteModel(dir + "/does_not_exist.tflite"), Error);
}

}  // namespace
}  // namespace pj::vision
