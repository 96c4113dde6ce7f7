// Invariant checks: a broken invariant is a bug, so the process aborts with the location.
#pragma once

#include <cstdio>
#include <cstdlib>

#define REALIP_CHECK(cond)                                                             \
  do {                                                                                 \
    if (!(cond)) [[unlikely]] {                                                        \
      std::fprintf(stderr, "realip-proxy: check failed: %s at %s:%d\n", #cond, __FILE__, \
                   __LINE__);                                                          \
      std::abort();                                                                    \
    }                                                                                  \
  } while (false)

#ifdef NDEBUG
#define REALIP_DCHECK(cond) \
  do {                      \
  } while (false && (cond))
#else
#define REALIP_DCHECK(cond) REALIP_CHECK(cond)
#endif
