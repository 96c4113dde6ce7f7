// Test driver for nginx_differential.py: argv holds set_real_ip_from entries; each stdin line
// is "recursive\x1fheader-name\x1fline1\x1fline2..." (request lines of that header, in order);
// each output line is "$remote_addr|$remote_port", or "<peer>|PEER" when nothing was replaced.
#include <iostream>
#include <string>
#include <vector>

#include "proxy/realip/resolver.h"

int main(int argc, char** argv) {
  namespace net = realip::net;
  namespace rr = realip::realip;
  auto trusted = std::make_shared<net::CidrSet>();
  for (int i = 1; i < argc; ++i) {
    if (absl::Status s = trusted->Add(argv[i]); !s.ok()) {
      std::cerr << s.message() << "\n";
      return 2;
    }
  }
  const net::SocketAddress peer = *net::ParseHostPort("127.0.0.1:40000", std::nullopt);
  std::string line;
  while (std::getline(std::cin, line)) {
    std::vector<std::string> fields;
    for (size_t start = 0;;) {
      size_t sep = line.find('\x1f', start);
      fields.push_back(line.substr(start, sep == std::string::npos ? sep : sep - start));
      if (sep == std::string::npos) break;
      start = sep + 1;
    }
    if (fields.size() < 2) return 2;
    rr::RealIpSettings settings;
    settings.trusted = trusted;
    settings.recursive = fields[0] == "1";
    absl::StatusOr<rr::RealIpSource> source = rr::ParseRealIpSource(fields[1]);
    if (!source.ok()) return 2;
    settings.sources = {*source};
    std::vector<rr::HeaderField> headers;
    for (size_t i = 2; i < fields.size(); ++i) headers.push_back({fields[1], fields[i]});
    rr::ResolveInput input;
    input.peer = peer;
    input.headers = headers;
    rr::Resolution r = rr::Resolve(settings, input);
    std::cout << r.client.HostToString() << "|"
              << (r.client == peer ? std::string("PEER")
                                   : r.client.port ? std::to_string(r.client.port) : "")
              << "\n";
  }
  return 0;
}
