// SPDX-License-Identifier: MIT
#pragma once
// runlog: track machine-learning and simulation runs from C++ into offline files.
// This umbrella header includes everything that needs no external library.

#include "artifacts.hpp"
#include "checkpoint_logger.hpp"
#include "config.hpp"
#include "error.hpp"
#include "export.hpp"
#include "fwd.hpp"
#include "media/histogram.hpp"
#include "media/image.hpp"
#include "media/media.hpp"
#include "media/table.hpp"
#include "metric.hpp"
#include "run.hpp"
#include "settings.hpp"
#include "sinks/jsonl.hpp"
#include "sinks/memory.hpp"
#include "sinks/sink.hpp"
#include "sinks/tensorboard.hpp"
#include "sinks/wandb.hpp"
#include "stats.hpp"
#include "summary.hpp"
#include "value.hpp"
#include "version.hpp"
