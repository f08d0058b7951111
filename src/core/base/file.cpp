#include "core/base/file.h"

#include "core/base/error.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <utility>

namespace pj {

MappedFile::MappedFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("{}: cannot open: {}", path, std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    int e = errno;
    ::close(fd);
    fail("{}: cannot stat: {}", path, std::strerror(e));
  }
  if (S_ISDIR(st.st_mode)) {
    ::close(fd);
    fail("{}: is a directory, expected a file", path);
  }
  size_ = static_cast<size_t>(st.st_size);
  if (size_ > 0) {
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      int e = errno;
      ::close(fd);
      fail("{}: cannot mmap {} bytes: {}", path, size_, std::strerror(e));
    }
    data_ = static_cast<const uint8_t*>(p);
    owned_ = true;
  }
  ::close(fd);
}

MappedFile MappedFile::borrow(const void* data, size_t size, std::string name) {
  MappedFile m;
  m.path_ = std::move(name);
  m.data_ = static_cast<const uint8_t*>(data);
  m.size_ = size;
  m.owned_ = false;
  return m;
}

MappedFile::~MappedFile() {
  if (owned_ && data_) ::munmap(const_cast<uint8_t*>(data_), size_);
}

MappedFile::MappedFile(MappedFile&& o) noexcept
    : path_(std::move(o.path_)), data_(o.data_), size_(o.size_), owned_(o.owned_) {
  o.data_ = nullptr;
  o.size_ = 0;
  o.owned_ = false;
}

MappedFile& MappedFile::operator=(MappedFile&& o) noexcept {
  if (this != &o) {
    if (owned_ && data_) ::munmap(const_cast<uint8_t*>(data_), size_);
    path_ = std::move(o.path_);
    data_ = o.data_;
    size_ = o.size_;
    owned_ = o.owned_;
    o.data_ = nullptr;
    o.size_ = 0;
    o.owned_ = false;
  }
  return *this;
}

std::string read_text_file(const std::string& path) {
  if (is_directory(path)) fail("{}: is a directory, expected a file", path);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("{}: cannot open: {}", path, std::strerror(errno));
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) fail("{}: read error", path);
  return ss.str();
}

bool file_exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

bool is_directory(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

AtomicFileWriter::AtomicFileWriter(std::string path)
    : path_(std::move(path)), tmp_path_(path_ + ".tmp." + std::to_string(::getpid())) {
  f_ = std::fopen(tmp_path_.c_str(), "wb");
  if (!f_) fail("{}: cannot create temporary file {}: {}", path_, tmp_path_, std::strerror(errno));
}

AtomicFileWriter::~AtomicFileWriter() {
  if (f_) std::fclose(f_);
  if (!committed_) std::remove(tmp_path_.c_str());
}

void AtomicFileWriter::write(const void* data, size_t n) {
  if (n == 0) return;
  if (std::fwrite(data, 1, n, f_) != n) fail("{}: write failed: {}", path_, std::strerror(errno));
  offset_ += n;
}

void AtomicFileWriter::write_zeros(size_t n) {
  static const char zeros[256] = {};
  while (n > 0) {
    size_t k = n < sizeof(zeros) ? n : sizeof(zeros);
    write(zeros, k);
    n -= k;
  }
}

void AtomicFileWriter::commit() {
  if (std::fflush(f_) != 0) fail("{}: flush failed: {}", path_, std::strerror(errno));
  ::fsync(::fileno(f_));
  if (std::fclose(f_) != 0) {
    f_ = nullptr;
    fail("{}: close failed: {}", path_, std::strerror(errno));
  }
  f_ = nullptr;
  if (std::rename(tmp_path_.c_str(), path_.c_str()) != 0)
    fail("{}: cannot rename {} into place: {}", path_, tmp_path_, std::strerror(errno));
  committed_ = true;
}

}  // namespace pj
