// Files: read-only memory maps for model data, whole-file reads for small files, and an atomic
// writer that only ever leaves a complete output file behind (write to "<path>.tmp.<pid>", rename).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

namespace pj {

// A read-only view of a whole file. Backed by mmap for regular files; an empty file maps to an empty
// span. Move-only.
class MappedFile {
 public:
  MappedFile() = default;
  explicit MappedFile(const std::string& path);
  ~MappedFile();
  MappedFile(MappedFile&& o) noexcept;
  MappedFile& operator=(MappedFile&& o) noexcept;
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // A MappedFile over caller-owned memory (no unmap on destruction); used by parsers fed from memory
  // (fuzzers, tests).
  static MappedFile borrow(const void* data, size_t size, std::string name);

 private:
  std::string path_;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  bool owned_ = false;
};

std::string read_text_file(const std::string& path);
bool file_exists(const std::string& path);
bool is_directory(const std::string& path);

// Streams bytes into "<path>.tmp.<pid>"; commit() flushes, fsyncs and renames over `path`. Destroying
// an uncommitted writer removes the temporary file, so a failed write never leaves a partial output.
class AtomicFileWriter {
 public:
  explicit AtomicFileWriter(std::string path);
  ~AtomicFileWriter();
  AtomicFileWriter(const AtomicFileWriter&) = delete;
  AtomicFileWriter& operator=(const AtomicFileWriter&) = delete;

  void write(const void* data, size_t n);
  void write(std::string_view s) { write(s.data(), s.size()); }
  void write_zeros(size_t n);
  uint64_t offset() const { return offset_; }
  void commit();
  const std::string& path() const { return path_; }

 private:
  std::string path_, tmp_path_;
  std::FILE* f_ = nullptr;
  uint64_t offset_ = 0;
  bool committed_ = false;
};

}  // namespace pj
