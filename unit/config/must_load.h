// Loading a configuration from text in unit tests.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "proxy/config/config.h"

namespace realip::config::testing_util {

// The main file's name in messages of configurations loaded by MustLoad.
inline constexpr char kPath[] = "/etc/realip-proxy/realip-proxy.conf";

// `text` loaded as the main file kPath (with `running` as a reload's running configuration);
// a failed load fails the test and returns null.
inline std::shared_ptr<const Config> MustLoad(const std::string& text,
                                              const Config* running = nullptr) {
  absl::StatusOr<std::shared_ptr<const Config>> c = LoadConfigFromString(text, kPath, running);
  EXPECT_TRUE(c.ok()) << c.status().message() << "\n" << text;
  return c.ok() ? *c : nullptr;
}

}  // namespace realip::config::testing_util
