// Status helpers: Abseil 20220623 has absl::Status but not the propagation macros.
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define REALIP_STATUS_CONCAT_INNER_(a, b) a##b
#define REALIP_STATUS_CONCAT_(a, b) REALIP_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status); returns it from the enclosing function if not OK.
#define REALIP_RETURN_IF_ERROR(expr)                  \
  do {                                                \
    ::absl::Status realip_status_ = (expr);           \
    if (!realip_status_.ok()) return realip_status_;  \
  } while (false)

// `lhs = value of (expr)`, where `expr` is an absl::StatusOr<T>; returns its status on error.
#define REALIP_ASSIGN_OR_RETURN(lhs, expr) \
  REALIP_ASSIGN_OR_RETURN_IMPL_(REALIP_STATUS_CONCAT_(realip_statusor_, __LINE__), lhs, expr)
#define REALIP_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                  \
  if (!tmp.ok()) return std::move(tmp).status();      \
  lhs = std::move(tmp).value()
