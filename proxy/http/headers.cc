#include "proxy/http/headers.h"

#include <algorithm>

namespace realip::http {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (Lower(a[i]) != Lower(b[i])) return false;
  }
  return true;
}

void HeaderList::Add(std::string_view name, std::string_view value) {
  headers_.push_back(Header{std::string(name), std::string(value)});
}

const Header* HeaderList::Find(std::string_view name) const {
  for (const Header& h : headers_) {
    if (EqualsIgnoreCase(h.name, name)) return &h;
  }
  return nullptr;
}

size_t HeaderList::Count(std::string_view name) const {
  return static_cast<size_t>(std::count_if(headers_.begin(), headers_.end(), [&](const Header& h) {
    return EqualsIgnoreCase(h.name, name);
  }));
}

std::string HeaderList::Joined(std::string_view name) const {
  std::string out;
  for (const Header& h : headers_) {
    if (!EqualsIgnoreCase(h.name, name)) continue;
    if (!out.empty()) out.append(", ");
    out.append(h.value);
  }
  return out;
}

size_t HeaderList::Remove(std::string_view name) {
  size_t before = headers_.size();
  std::erase_if(headers_, [&](const Header& h) { return EqualsIgnoreCase(h.name, name); });
  return before - headers_.size();
}

bool HasToken(const HeaderList& headers, std::string_view name, std::string_view token) {
  bool found = false;
  for (const Header& h : headers) {
    if (!EqualsIgnoreCase(h.name, name)) continue;
    ForEachListElement(h.value, [&](std::string_view element) {
      if (EqualsIgnoreCase(element, token)) found = true;
    });
  }
  return found;
}

std::vector<std::string> ConnectionOptions(const HeaderList& headers) {
  std::vector<std::string> options;
  for (const Header& h : headers) {
    if (!EqualsIgnoreCase(h.name, "connection")) continue;
    ForEachListElement(h.value, [&](std::string_view element) {
      std::string lowered(element);
      for (char& c : lowered) c = Lower(c);
      options.push_back(std::move(lowered));
    });
  }
  return options;
}

bool IsHopByHop(std::string_view name, const std::vector<std::string>& connection_options) {
  // RFC 9110 section 7.6.1 names Connection, Proxy-Connection, Keep-Alive, TE,
  // Transfer-Encoding and Upgrade; Trailer describes the hop's own framing (section 6.6.2).
  static constexpr std::string_view kFixed[] = {
      "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
      "upgrade"};
  for (std::string_view fixed : kFixed) {
    if (EqualsIgnoreCase(name, fixed)) return true;
  }
  for (const std::string& option : connection_options) {
    if (EqualsIgnoreCase(name, option)) return true;
  }
  return false;
}

}  // namespace realip::http
