#include "core/base/error.h"
#include "core/base/file.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>

namespace fs = std::filesystem;

static std::string temp_path(const char* name) {
  return (fs::temp_directory_path() / (std::string("pj_test_") + name)).string();
}

TEST(AtomicFileWriter, CommitRenamesIntoPlace) {
  std::string p = temp_path("commit.bin");
  std::remove(p.c_str());
  {
    pj::AtomicFileWriter w(p);
    w.write("hello");
    w.write_zeros(3);
    EXPECT_EQ(w.offset(), 8u);
    EXPECT_FALSE(fs::exists(p)) << "output must not appear before commit";
    w.commit();
  }
  pj::MappedFile m(p);
  ASSERT_EQ(m.size(), 8u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(m.data()), 5), "hello");
  EXPECT_EQ(m.data()[7], 0);
  std::remove(p.c_str());
}

TEST(AtomicFileWriter, AbandonedWriteLeavesNothing) {
  std::string p = temp_path("abandon.bin");
  std::remove(p.c_str());
  {
    pj::AtomicFileWriter w(p);
    w.write("partial");
  }
  EXPECT_FALSE(fs::exists(p));
  for (auto& e : fs::directory_iterator(fs::temp_directory_path()))
    EXPECT_EQ(e.path().filename().string().rfind("pj_test_abandon.bin.tmp", 0), std::string::npos);
}

TEST(MappedFile, MissingFileIsAClearError) {
  try {
    pj::MappedFile m("/nonexistent/dir/model.gguf");
    FAIL() << "expected pj::Error";
  } catch (const pj::Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/dir/model.gguf"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("cannot open"), std::string::npos);
  }
}

TEST(MappedFile, EmptyFileAndDirectory) {
  std::string p = temp_path("empty.bin");
  { std::FILE* f = std::fopen(p.c_str(), "wb"); std::fclose(f); }
  pj::MappedFile m(p);
  EXPECT_EQ(m.size(), 0u);
  std::remove(p.c_str());
  EXPECT_THROW(pj::MappedFile(fs::temp_directory_path().string()), pj::Error);
}
