// gguf_roundtrip IN OUT: reads IN with pj::gguf::File and writes every key and tensor back with
// pj::gguf::Writer. Used by tests/python/test_gguf_interop.py so that gguf-py can judge our writer.
#include "core/base/error.h"
#include "core/gguf/gguf.h"

#include <cstdio>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: gguf_roundtrip IN.gguf OUT.gguf\n");
    return 2;
  }
  try {
    const auto f = pj::gguf::File::open(argv[1]);
    pj::gguf::Writer w;
    for (const auto& kv : f.metadata()) w.add_kv(kv.key, kv.value);
    for (const auto& t : f.tensors()) w.add_tensor(t.name, t.type, t.shape, t.bytes());
    w.write(argv[2]);
  } catch (const pj::Error& e) {
    std::fprintf(stderr, "gguf_roundtrip: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
