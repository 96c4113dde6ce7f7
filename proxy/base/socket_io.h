// send() and recv() as direct system calls, without glibc's cancellation-point bookkeeping.
//
// In a multi-threaded process glibc brackets every cancellable call (send, recv, ...) with two
// updates of the calling thread's cancellation state (__pthread_enable_asynccancel and
// __pthread_disable_asynccancel, atomic operations). Under keep-alive load those were about 1%
// of a worker's CPU (perf, scenario A). No thread of ours is ever cancelled, so the socket hot
// paths make the system calls themselves. Same results and errno as send() and recv().
#pragma once

#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

#include <cstddef>

namespace realip::base {

inline ssize_t SocketSend(int fd, const void* data, size_t len, int flags) {
  return syscall(SYS_sendto, static_cast<long>(fd), data, len, static_cast<long>(flags), nullptr,
                 0L);
}

inline ssize_t SocketRecv(int fd, void* buf, size_t len) {
  return syscall(SYS_recvfrom, static_cast<long>(fd), buf, len, 0L, nullptr, nullptr);
}

}  // namespace realip::base
