// SPDX-License-Identifier: MIT
#pragma once

#define RUNLOG_VERSION_MAJOR 0
#define RUNLOG_VERSION_MINOR 2
#define RUNLOG_VERSION_PATCH 0
#define RUNLOG_VERSION_STRING "0.2.0"

// The on-disk format written by the native sink (docs/format.md).
#define RUNLOG_FORMAT_VERSION "runlog/1"
