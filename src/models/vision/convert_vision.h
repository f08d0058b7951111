// Hugging Face ViT (ViTForImageClassification) and CLIP (CLIPModel) folders (or GGUFs of them) -> GGUF for
// `pajamas convert` / `pajamas quantize`, and the weight-type rule of every vision model (ViT, CLIP, YOLO).
// Tensors keep their Hugging Face names (the loader binds by them); config.json and preprocessor_config.json
// are stored verbatim in "vision.hf_config" / "vision.hf_preprocessor", general.architecture is "vit" or
// "clip".
//
// Which tensors get the requested type (vision_weight_type): the matrices the kernels multiply - ViT/CLIP
// linear layers (q/k/v/out, fc1/fc2, classifier, projections), the patch embedding (a stride-p conv run as
// a matrix [dim, C*p*p]), the CLIP token embedding (read row by row), and every YOLO convolution (run as
// im2col + matmul on rows of KH*KW*Cin) - get the type when their row length is a multiple of its block
// size; otherwise a 256-wide type falls back to llama.cpp's 32-wide replacement (tensor_type_fallback, as
// src/models/quantize/file_types.cpp: IQ1..IQ3, IQ4_XS -> IQ4_NL; Q2_K, Q3_K, TQ1_0, TQ2_0 -> Q4_0;
// Q4_K -> Q5_0; Q5_K -> Q5_1; Q6_K -> Q8_0), and to F16 (F32 for an F32 file) when that does not divide
// the row either. Norms, biases, class/position embeddings stay F32.
#pragma once

#include <string>

#include "core/base/ggml_types.h"

namespace pj {
class KernelContext;
}

namespace pj::vision {

// True for a folder whose config.json has model_type vit or clip.
bool is_vision_folder(const std::string& path);
// The type a weight matrix with rows of `cols` values is stored as when `want` is asked for (rule above).
GgmlType vision_weight_type(GgmlType want, int64_t cols);

// Writes the GGUF atomically from a folder or a vision GGUF; returns the number of matrices that did not
// get `type` (fallbacks). Quantized inputs (not F32/F16/BF16) are refused unless allow_requantize.
int write_vision_gguf(KernelContext& ctx, const std::string& folder_or_gguf, const std::string& out, GgmlType type,
                      const std::string& name, bool allow_requantize = false);

// True for what `pajamas quantize` treats as a vision model: a ViT/CLIP folder or GGUF, a YOLOv8
// .safetensors state_dict or a yolov8 GGUF.
bool is_vision_model(const std::string& path);

// `pajamas quantize` of a vision model: every weight matrix as `type` by the rule above, written
// atomically to `out`. Returns a one-line summary (tensor counts per type, fallbacks).
std::string quantize_vision_model(const std::string& in, const std::string& out, GgmlType type,
                                  bool allow_requantize);

}  // namespace pj::vision
