// libFuzzer entry point: any bytes as a configuration file. The loader must return a config
// or an error, never crash, leak or hang. Includes are read from an empty in-memory source and
// only IP literals resolve, so that inputs reach neither the filesystem nor DNS.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "proxy/config/directive_table.h"

namespace {

class NoFiles : public realip::config::FileSource {
 public:
  absl::StatusOr<std::vector<std::string>> Glob(const std::string& pattern) override {
    return std::vector<std::string>{pattern};
  }
  absl::StatusOr<std::string> Read(const std::string& path) override {
    return absl::NotFoundError("open() \"" + path + "\" failed (2: No such file or directory)");
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  NoFiles files;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = realip::config::internal::LoadFromSource(text, "/fuzz/realip-proxy.conf", files,
                                                         /*use_dns=*/false);
  if (config.ok()) {
    // Exercise the lookups on whatever was built.
    for (const auto& listener : (*config)->listeners) {
      const auto& server = listener.FindServer("www.example.com:80");
      (void)server.FindLocation("/a/b");
    }
    (void)(*config)->Dump();
  }
  return 0;
}
