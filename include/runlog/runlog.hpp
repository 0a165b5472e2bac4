// SPDX-License-Identifier: MIT
#pragma once
// runlog: track machine-learning and simulation runs from C++ into offline files.
// This umbrella header includes everything that needs no external library. With the compiled
// library (RUNLOG_COMPILED_LIB, config.hpp) it includes what logging needs, and the tools —
// export, finalize, the artifact store, checkpoint_logger, the concrete sinks — come from their
// own headers where they are used, so that the translation units of a training loop compile
// fast.

#include "artifact_types.hpp"
#include "config.hpp"
#include "error.hpp"
#include "fwd.hpp"
#include "media/histogram.hpp"
#include "media/image.hpp"
#include "media/media.hpp"
#include "media/table.hpp"
#include "metric.hpp"
#include "run.hpp"
#include "settings.hpp"
#include "sinks/sink.hpp"
#include "stats.hpp"
#include "value.hpp"
#include "version.hpp"

#if !RUNLOG_COMPILED_LIB
#include "artifacts.hpp"
#include "checkpoint_logger.hpp"
#include "export.hpp"
#include "finalize.hpp"
#include "sinks/jsonl.hpp"
#include "sinks/memory.hpp"
#include "sinks/tensorboard.hpp"
#include "sinks/wandb.hpp"
#include "summary.hpp"
#endif
