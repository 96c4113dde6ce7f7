// realip-proxy: command line in nginx's style (-c, -t, -T, -v, -V, -h).
#include <cstdio>
#include <cstring>
#include <string>

#include "proxy/base/build_config.h"

namespace {

void PrintUsage() {
  std::printf(
      "Usage: realip-proxy [-hvVtT] [-c filename]\n\n"
      "Options:\n"
      "  -h            : this help\n"
      "  -v            : show version and exit\n"
      "  -V            : show version and build information and exit\n"
      "  -t            : test configuration and exit\n"
      "  -T            : test configuration, dump it and exit\n"
      "  -c filename   : set configuration file (default: %s)\n",
      realip::base::kDefaultConfPath);
}

}  // namespace

int main(int argc, char** argv) {
  std::string conf_path = realip::base::kDefaultConfPath;
  bool test_only = false;
  bool dump = false;
  for (int i = 1; i < argc; ++i) {
    const char* arg = argv[i];
    if (std::strcmp(arg, "-h") == 0 || std::strcmp(arg, "-?") == 0) {
      PrintUsage();
      return 0;
    } else if (std::strcmp(arg, "-v") == 0) {
      std::fprintf(stderr, "realip-proxy version: realip-proxy/%s\n", realip::base::kVersion);
      return 0;
    } else if (std::strcmp(arg, "-V") == 0) {
      std::fprintf(stderr, "realip-proxy version: realip-proxy/%s\nbuilt by %s (%s)\n",
                   realip::base::kVersion, realip::base::kCompiler, realip::base::kBuildType);
      return 0;
    } else if (std::strcmp(arg, "-t") == 0) {
      test_only = true;
    } else if (std::strcmp(arg, "-T") == 0) {
      test_only = dump = true;
    } else if (std::strcmp(arg, "-c") == 0) {
      if (++i == argc) {
        std::fprintf(stderr, "realip-proxy: option \"-c\" requires file name\n");
        return 1;
      }
      conf_path = argv[i];
    } else {
      std::fprintf(stderr, "realip-proxy: invalid option: \"%s\"\n", arg);
      return 1;
    }
  }
  (void)test_only;
  (void)dump;
  std::fprintf(stderr, "realip-proxy: the engine is not built yet (config %s)\n",
               conf_path.c_str());
  return 1;
}
