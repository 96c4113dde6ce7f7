// A private temporary folder for one test.
//
// CTest runs every test case as its own process, several at once, and the Release and sanitizer
// builds may run side by side: a fixed name under /tmp is shared by whichever of them run
// together, and one test's cleanup empties another's folder. Each ScopedTempDir is a new folder
// (mkdtemp), removed with everything in it when the object goes.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace realip {

class ScopedTempDir {
 public:
  ScopedTempDir() {
    std::string tmpl =
        (std::filesystem::path(::testing::TempDir()) / "realip-test-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) ADD_FAILURE() << "mkdtemp(" << tmpl << ") failed";
    path_ = tmpl;
  }
  ~ScopedTempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScopedTempDir(const ScopedTempDir&) = delete;
  ScopedTempDir& operator=(const ScopedTempDir&) = delete;

  const std::string& path() const { return path_; }
  // The path of `name` inside the folder (nothing is created).
  std::string File(const std::string& name) const {
    return (std::filesystem::path(path_) / name).string();
  }
  // Writes `text` to `name` inside the folder, creating subfolders; returns its path.
  std::string Write(const std::string& name, const std::string& text) const {
    const std::filesystem::path p = std::filesystem::path(path_) / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }

 private:
  std::string path_;
};

}  // namespace realip
