#include "proxy/base/logging.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "unit/temp_dir.h"

namespace realip::base {
namespace {

TEST(LoggingTest, ParsesNginxLevels) {
  EXPECT_EQ(*ParseLogLevel("warn"), LogLevel::kWarn);
  EXPECT_EQ(*ParseLogLevel("debug"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("emerg"), LogLevel::kEmerg);
  EXPECT_FALSE(ParseLogLevel("warning").ok());
  EXPECT_EQ(LogLevelName(LogLevel::kNotice), "notice");
}

TEST(LoggingTest, FiltersByLevelAndWritesNginxFormat) {
  const ScopedTempDir tmp;
  const std::string path = tmp.File("logging_test.log");
  ASSERT_TRUE(SetLogFile(path).ok());
  SetLogLevel(LogLevel::kWarn);
  REALIP_LOG(kInfo, "hidden");
  REALIP_LOG(kError, "upstream \"", "app", "\": ", 502);
  ASSERT_TRUE(ReopenLogFile().ok());
  REALIP_LOG(kWarn, "after reopen");
  ASSERT_TRUE(SetLogFile("stderr").ok());
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str().find("hidden"), std::string::npos);
  EXPECT_NE(text.str().find("[error] "), std::string::npos);
  EXPECT_NE(text.str().find(": upstream \"app\": 502\n"), std::string::npos);
  EXPECT_NE(text.str().find("[warn] "), std::string::npos);
  EXPECT_NE(text.str().find("after reopen"), std::string::npos);
}

TEST(LoggingTest, UnopenableFileKeepsPreviousSink) {
  absl::Status st = SetLogFile("/nonexistent-dir/x.log");
  EXPECT_EQ(st.message(),
            "open() \"/nonexistent-dir/x.log\" failed (2: No such file or directory)");
}

TEST(LoggingTest, CheckLogFileCreatesTheFileAndLeavesTheSink) {
  const ScopedTempDir tmp;
  const std::string path = tmp.File("logging_check.log");
  ASSERT_TRUE(CheckLogFile(path).ok());
  EXPECT_TRUE(std::ifstream(path).good());
  EXPECT_TRUE(CheckLogFile("stderr").ok());
  EXPECT_EQ(CheckLogFile("/nonexistent-dir/x.log").message(),
            "open() \"/nonexistent-dir/x.log\" failed (2: No such file or directory)");
  // The sink did not move: a line still goes where it went (stderr), not into the file.
  REALIP_LOG(kEmerg, "logging_check: not in the file");
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  EXPECT_EQ(text.str(), "");
}

}  // namespace
}  // namespace realip::base
