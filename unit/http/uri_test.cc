#include "proxy/http/uri.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"

namespace realip::http {
namespace {

// Each case's result is what nginx 1.22 gives as $uri for the same request path (checked
// against Debian's nginx with `return 200 "$uri"`); nullptr: 400, as nginx answers, except
// for the escaped control bytes marked below.
TEST(NormalizePathTest, AsNginx) {
  struct Case {
    const char* path;
    const char* want;
  };
  for (const Case& c : {
           Case{"/", "/"},
           Case{"/a/b", "/a/b"},
           Case{"/a/", "/a/"},
           Case{"/.well-known/x", "/.well-known/x"},
           Case{"/a%20b/../c%41", "/cA"},
           Case{"/a/%2e%2e/b", "/b"},
           Case{"/a/%2E%2E/b", "/b"},
           Case{"/a%2fb", "/a/b"},
           Case{"/a%2f..%2fb", "/b"},
           Case{"/a/..%2fb", "/b"},
           Case{"/a/..", "/"},
           Case{"/a/.", "/a/"},
           Case{"/a/./", "/a/"},
           Case{"/a//b", "/a/b"},
           Case{"//", "/"},
           Case{"/%2f%2f", "/"},
           Case{"/a%25b", "/a%b"},
           Case{"/a%2525", "/a%25"},
           Case{"/a%3fb", "/a?b"},
           Case{"/a%23b", "/a#b"},
           Case{"/a+b", "/a+b"},
           Case{"/%7e", "/~"},
           Case{"/a/...", "/a/..."},
           Case{"/a/.../b", "/a/.../b"},
           Case{"/a/..b", "/a/..b"},
           Case{"/a/.b/", "/a/.b/"},
           Case{"/a/b/../../", "/"},
           Case{"/a%2e/b", "/a./b"},
           Case{"/a/%2e/b", "/a/b"},
           Case{"/a/.%2E", "/"},
           Case{"/a;b/../c", "/c"},
           Case{"/a/./../b", "/b"},
           Case{"/a/b/%2e%2e", "/a/"},
           Case{"/a%5c..%5cb", "/a\\..\\b"},
           Case{"/..", nullptr},
           Case{"/../a", nullptr},
           Case{"/a/b/../../..", nullptr},
           Case{"/.%2e/a", nullptr},
           Case{"/a%00b", nullptr},
           // nginx passes these on into $uri; a CR or LF there could split a header.
           Case{"/a%0d%0ab", nullptr},
           Case{"/a%0ab", nullptr},
           Case{"/a%01b", nullptr},
           Case{"/a%7fb", nullptr},
           Case{"/a%09b", "/a\tb"},
           Case{"/a%zzb", nullptr},
           Case{"/a%2", nullptr},
           Case{"/a%", nullptr},
       }) {
    std::string out = "untouched";
    const PathNormalization r = NormalizePath(c.path, &out);
    if (c.want == nullptr) {
      EXPECT_EQ(r, PathNormalization::kInvalid) << c.path;
    } else if (std::string(c.want) == c.path) {
      EXPECT_EQ(r, PathNormalization::kUnchanged) << c.path;
      EXPECT_EQ(out, "untouched") << c.path;
    } else {
      EXPECT_EQ(r, PathNormalization::kRewritten) << c.path;
      EXPECT_EQ(out, c.want) << c.path;
    }
  }
}

// Every path over an alphabet rich in the bytes that matter, up to 7 bytes: a normal form never
// holds an empty, "." or ".." segment, so routing cannot be steered around a location by
// spelling, and normalizing it again (when it holds no '%' to decode) changes nothing.
TEST(NormalizePathTest, NormalFormsHaveNoDotOrEmptySegments) {
  const std::string alphabet = "/.a%2eEf5";
  std::string path = "/";
  size_t checked = 0;
  // Odometer over the bytes after the leading '/'.
  std::vector<size_t> digits;
  for (;;) {
    std::string out;
    const PathNormalization r = NormalizePath(path, &out);
    if (r != PathNormalization::kInvalid) {
      const std::string normal = r == PathNormalization::kRewritten ? out : path;
      ASSERT_FALSE(normal.empty()) << path;
      EXPECT_EQ(normal[0], '/') << path;
      EXPECT_EQ(normal.find("//"), std::string::npos) << path << " -> " << normal;
      // Every segment followed by a '/', so that the last one is checked too.
      std::string bounded = normal;
      if (bounded.back() != '/') bounded.push_back('/');
      EXPECT_EQ(bounded.find("/./"), std::string::npos) << path << " -> " << normal;
      EXPECT_EQ(bounded.find("/../"), std::string::npos) << path << " -> " << normal;
      if (normal.find('%') == std::string::npos) {
        std::string again;
        EXPECT_EQ(NormalizePath(normal, &again), PathNormalization::kUnchanged)
            << path << " -> " << normal << " -> " << again;
      }
      ++checked;
    }
    size_t i = 0;
    while (i < digits.size() && digits[i] + 1 == alphabet.size()) digits[i++] = 0;
    if (i == digits.size()) {
      if (digits.size() == 6) break;
      digits.push_back(0);
    } else {
      ++digits[i];
    }
    path.resize(1);  // the leading '/'
    for (size_t d : digits) path.push_back(alphabet[d]);
  }
  EXPECT_GT(checked, 100000u);
}

// merge_slashes off: each result is Debian's nginx 1.22's $uri for that path with
// `merge_slashes off` (checked with `return 200 "$uri"`).
TEST(NormalizePathTest, MergeSlashesOffAsNginx) {
  struct Case {
    const char* path;
    const char* want;
  };
  for (const Case& c : {
           Case{"//a/b", "//a/b"},
           Case{"/a//b", "/a//b"},
           Case{"/a//../b", "/a/b"},
           Case{"/a/b//", "/a/b//"},
           Case{"/a/.//b", "/a//b"},
           Case{"//", "//"},
           Case{"/a/%2F/b", "/a///b"},
           Case{"/a//./b", "/a//b"},
           Case{"/x//../../b", "/b"},
           Case{"///../b", "//b"},
           Case{"/a/b/..//c", "/a//c"},
           Case{"/a/%2F%2F/b", "/a////b"},
       }) {
    std::string out;
    const PathNormalization r = NormalizePath(c.path, &out, /*merge_slashes=*/false);
    ASSERT_NE(r, PathNormalization::kInvalid) << c.path;
    EXPECT_EQ(r == PathNormalization::kUnchanged ? std::string(c.path) : out, c.want) << c.path;
  }
  std::string out;
  EXPECT_EQ(NormalizePath("/a/../..", &out, false), PathNormalization::kInvalid);
}

TEST(NormalizePathTest, OtherFormsAreLeftAlone) {
  std::string out;
  EXPECT_EQ(NormalizePath("*", &out), PathNormalization::kUnchanged);
  EXPECT_EQ(NormalizePath("", &out), PathNormalization::kUnchanged);
}

TEST(AppendEscapedPathTest, EscapesWhatNginxEscapes) {
  std::string out;
  AppendEscapedPath(std::string("/a b#c%d?e\x01\x7f\xc3\xbc/~\"'!", 19), &out);
  EXPECT_EQ(out, "/a%20b%23c%25d%3Fe%01%7F%C3%BC/~\"'!");
}

}  // namespace
}  // namespace realip::http
