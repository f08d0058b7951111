// Hugging Face ViT (ViTForImageClassification) and CLIP (CLIPModel) folders -> GGUF for `pajamas convert`.
// Tensors keep their Hugging Face names (the loader binds by them); config.json and preprocessor_config.json
// are stored verbatim in "vision.hf_config" / "vision.hf_preprocessor", general.architecture is "vit" or
// "clip". Matrices (2-D weights and the patch embedding, flattened to [dim, C*p*p]) get `type` where their
// row length is a multiple of its block size, else F16; vectors and embeddings tables stay F32 (norms,
// biases, positions) - except the CLIP token embedding, a matrix read row by row.
#pragma once

#include <string>

#include "core/base/ggml_types.h"

namespace pj {
class KernelContext;
}

namespace pj::vision {

// True for a folder whose config.json has model_type vit or clip.
bool is_vision_folder(const std::string& path);
// Writes the GGUF atomically; returns the number of matrices that fell back to F16.
int write_vision_gguf(KernelContext& ctx, const std::string& folder, const std::string& out, GgmlType type,
                      const std::string& name);

}  // namespace pj::vision
