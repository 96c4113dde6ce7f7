#include "proxy/base/field_id.h"

#include <cstring>

namespace realip::base {
namespace {

// A known name as the words a name of its length is compared in: the bytes at offsets 0,
// Mid(n) and n - 8 for names of 8 bytes or more, 0 and n - 4 for 4 to 7 (the words overlap).
// A name's word matches when OR-ing the case bit into the positions where the known name has
// a letter gives the known word: for a letter that folds case exactly ('T' and 't' are the
// only bytes that give 't'), and the other positions ('-') must match as they are.
constexpr size_t Mid(size_t n) { return n > 16 ? 8 : n - 8; }

template <typename Word>
constexpr Word WordAt(std::string_view s, size_t at, bool case_bits) {
  Word w = 0;
  for (size_t i = 0; i < sizeof(Word); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[at + i]);
    const unsigned char byte = case_bits ? (c >= 'a' && c <= 'z' ? 0x20 : 0) : c;
    w |= static_cast<Word>(byte) << (8 * i);
  }
  return w;
}

struct Known {
  uint64_t word[3] = {};
  uint64_t fold[3] = {};  // the case bit where the word has a letter
  FieldId id = FieldId::kOther;
};

constexpr Known Make(std::string_view lower, FieldId id) {
  const size_t n = lower.size();
  Known k;
  k.id = id;
  if (n >= 8) {
    const size_t at[3] = {0, Mid(n), n - 8};
    for (int i = 0; i < 3; ++i) {
      k.word[i] = WordAt<uint64_t>(lower, at[i], false);
      k.fold[i] = WordAt<uint64_t>(lower, at[i], true);
    }
  } else {
    const size_t at[2] = {0, n - 4};
    for (int i = 0; i < 2; ++i) {
      k.word[i] = WordAt<uint32_t>(lower, at[i], false);
      k.fold[i] = WordAt<uint32_t>(lower, at[i], true);
    }
  }
  return k;
}

template <typename Word>
bool WordIs(const char* p, const Known& k, int i) {
  Word w;
  std::memcpy(&w, p, sizeof(Word));
  return (w | static_cast<Word>(k.fold[i])) == static_cast<Word>(k.word[i]);
}

// The one known name a name of this length and first letter (lowered) can be.
constexpr Known kConnection = Make("connection", FieldId::kConnection);
constexpr Known kContentLength = Make("content-length", FieldId::kContentLength);
constexpr Known kContentType = Make("content-type", FieldId::kContentType);
constexpr Known kCookie = Make("cookie", FieldId::kCookie);
constexpr Known kDate = Make("date", FieldId::kDate);
constexpr Known kExpect = Make("expect", FieldId::kExpect);
constexpr Known kForwarded = Make("forwarded", FieldId::kForwarded);
constexpr Known kHost = Make("host", FieldId::kHost);
constexpr Known kKeepAlive = Make("keep-alive", FieldId::kKeepAlive);
constexpr Known kProxyConnection = Make("proxy-connection", FieldId::kProxyConnection);
constexpr Known kServer = Make("server", FieldId::kServer);
constexpr Known kTrailer = Make("trailer", FieldId::kTrailer);
constexpr Known kTransferEncoding = Make("transfer-encoding", FieldId::kTransferEncoding);
constexpr Known kUpgrade = Make("upgrade", FieldId::kUpgrade);
constexpr Known kXForwardedFor = Make("x-forwarded-for", FieldId::kXForwardedFor);
constexpr Known kXRealIp = Make("x-real-ip", FieldId::kXRealIp);

const Known* CandidateFor(size_t size, char first) {
  switch (size) {
    case 4:
      return first == 'd' ? &kDate : &kHost;
    case 6:
      return first == 'c' ? &kCookie : first == 'e' ? &kExpect : &kServer;
    case 7:
      return first == 't' ? &kTrailer : &kUpgrade;
    case 9:
      return first == 'f' ? &kForwarded : &kXRealIp;
    case 10:
      return first == 'c' ? &kConnection : &kKeepAlive;
    case 12:
      return &kContentType;
    case 14:
      return &kContentLength;
    case 15:
      return &kXForwardedFor;
    case 16:
      return &kProxyConnection;
    case 17:
      return &kTransferEncoding;
    default:
      return nullptr;
  }
}

}  // namespace

FieldId ClassifyField(std::string_view name) {
  const size_t n = name.size();
  if (n == 2) {
    return (name[0] | 0x20) == 't' && (name[1] | 0x20) == 'e' ? FieldId::kTe : FieldId::kOther;
  }
  if (n < 4) return FieldId::kOther;
  const Known* k = CandidateFor(n, static_cast<char>(name[0] | 0x20));
  if (k == nullptr) return FieldId::kOther;
  const char* p = name.data();
  if (n >= 8) {
    return WordIs<uint64_t>(p, *k, 0) && WordIs<uint64_t>(p + Mid(n), *k, 1) &&
                   WordIs<uint64_t>(p + n - 8, *k, 2)
               ? k->id
               : FieldId::kOther;
  }
  return WordIs<uint32_t>(p, *k, 0) && WordIs<uint32_t>(p + n - 4, *k, 1) ? k->id : FieldId::kOther;
}

}  // namespace realip::base
