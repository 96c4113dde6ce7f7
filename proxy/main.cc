// realip-proxy: command line in nginx's style (-c, -t, -T, -v, -V, -h).
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "proxy/base/build_config.h"
#include "proxy/base/logging.h"
#include "proxy/base/strings.h"
#include "proxy/config/config.h"
#include "proxy/event/libevent_memory.h"
#include "proxy/server/access_log.h"
#include "proxy/server/server.h"
#include "proxy/tls/tls.h"

namespace {

void PrintUsage() {
  std::printf(
      "Usage: realip-proxy [-hvVtTq] [-c filename]\n\n"
      "Options:\n"
      "  -h            : this help\n"
      "  -v            : show version and exit\n"
      "  -V            : show version and build information and exit\n"
      "  -t            : test configuration and exit\n"
      "  -T            : test configuration, dump it and exit\n"
      "  -q            : suppress non-error messages during configuration testing\n"
      "  -c filename   : set configuration file (default: %s)\n",
      realip::base::kDefaultConfPath);
}

void PrintEmerg(const absl::Status& status) {
  const std::string_view message = realip::base::AsStd(status.message());
  std::fprintf(stderr, "realip-proxy: [emerg] %.*s\n", static_cast<int>(message.size()),
               message.data());
}

// Loads `path`, printing nginx-style [emerg]/[warn] lines; null on error.
std::shared_ptr<const realip::config::Config> Load(const std::string& path) {
  absl::StatusOr<std::shared_ptr<const realip::config::Config>> config =
      realip::tls::LoadConfigWithTls(path);
  if (!config.ok()) {
    PrintEmerg(config.status());
    return nullptr;
  }
  for (const std::string& warning : (*config)->warnings) {
    std::fprintf(stderr, "realip-proxy: [warn] %s\n", warning.c_str());
  }
  return *std::move(config);
}

// -t / -T: load the configuration, report as nginx does, exit 0 or 1. `quiet` (-q) keeps
// only errors, as nginx's -q.
int TestConfig(const std::string& path, bool dump, bool quiet) {
  std::shared_ptr<const realip::config::Config> config = Load(path);
  if (config != nullptr) {
    // As nginx -t: the error log and the access-log files are opened (created when missing),
    // then closed, so that a file the start could not open fails the test too.
    realip::server::LogFiles files;
    absl::Status opened = realip::base::CheckLogFile(config->main.error_log_path);
    if (opened.ok()) opened = files.Attach(config).status();
    if (!opened.ok()) {
      PrintEmerg(opened);
      config = nullptr;
    }
  }
  if (config == nullptr) {
    std::fprintf(stderr, "realip-proxy: configuration file %s test failed\n", path.c_str());
    return 1;
  }
  if (!quiet) {
    std::fprintf(stderr, "realip-proxy: the configuration file %s syntax is ok\n", path.c_str());
    std::fprintf(stderr, "realip-proxy: configuration file %s test is successful\n", path.c_str());
  }
  if (dump) {
    const std::string text = config->Dump();
    std::fwrite(text.data(), 1, text.size(), stdout);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Before libevent's first allocation: keeps its per-fd records off the workers' malloc heap.
  realip::event::UseCompactLibeventMemory();
  std::string conf_path = realip::base::kDefaultConfPath;
  bool test_only = false;
  bool dump = false;
  bool quiet = false;
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
    } else if (std::strcmp(arg, "-q") == 0) {
      quiet = true;
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
  if (test_only) return TestConfig(conf_path, dump, quiet);
  std::shared_ptr<const realip::config::Config> config = Load(conf_path);
  if (config == nullptr) return 1;
  return realip::server::RunServer(std::move(config), conf_path);
}
