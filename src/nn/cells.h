// The one place a CellType becomes a cell: visit_cell calls fn with the cell's traits struct
// (sequence_scan.h), so the stack, the scratch reference and inference each dispatch once.
#pragma once

#include <fmt/format.h>

#include "nn/gru.h"
#include "nn/lstm.h"
#include "nn/rnn_cell.h"
#include "recur/core/error.h"
#include "recur/nn/rnn.h"

namespace recur::fused {

// fn(Cell{}) for the traits struct of `cell`; throws ValueError for a value outside the enum.
template <typename Fn>
decltype(auto) visit_cell(CellType cell, Fn&& fn) {
  switch (cell) {
    case CellType::kRnnTanh:
      return fn(RnnCell<kernels::RnnActivation::kTanh>{});
    case CellType::kRnnRelu:
      return fn(RnnCell<kernels::RnnActivation::kRelu>{});
    case CellType::kGru:
      return fn(GruCell{});
    case CellType::kLstm:
      return fn(LstmCell{});
  }
  throw ValueError(fmt::format("unknown cell type {}", static_cast<int>(cell)));
}

// Whether the cell has a second state c beside h (an LSTM): c0 and c_n.
inline bool has_cell_state(CellType cell) {
  return visit_cell(cell, []<class Cell>(Cell) { return Cell::kHasCellState; });
}

}  // namespace recur::fused
