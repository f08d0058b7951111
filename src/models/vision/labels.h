// Class names for classification results: the config's id2label when it has real names, else the 1000
// ImageNet classes (../shared/data/labels/imagenet_labels_1001.txt, whose first line is "background").
#pragma once

#include <string>
#include <vector>

namespace pj::vision {

// True for generated names such as "label_3" / "LABEL_3".
bool is_generic_label(const std::string& s);
// Reads a label file, one name per line (a trailing empty line ignored).
std::vector<std::string> read_labels(const std::string& path);
// The ImageNet label file: $PAJAMAS_IMAGENET_LABELS, else ../shared/data/labels/imagenet_labels_1001.txt
// next to the working directory or to the repository the binary was built in; "" if none is found.
std::string find_imagenet_labels(const std::string& exe_path);
// Names for n classes: config labels when real, ImageNet for 1000/1001 classes, else "class_<i>".
std::vector<std::string> resolve_labels(const std::vector<std::string>& config_labels, int n,
                                        const std::string& imagenet_file);

}  // namespace pj::vision
