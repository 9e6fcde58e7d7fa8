// The stack's parameters: cell names and gate counts, PyTorch's parameter names, their
// registration in a ParameterStore, and PyTorch's default initialization.
#include <fmt/format.h>

#include <cmath>

#include "nn/cells.h"
#include "nn/rnn_checks.h"
#include "recur/core/error.h"
#include "recur/nn/rnn.h"

namespace recur {

int gate_count(CellType cell) {
  return fused::visit_cell(cell, []<class Cell>(Cell) { return Cell::kGates; });
}

const char* cell_name(CellType cell) {
  return fused::visit_cell(cell, []<class Cell>(Cell) { return Cell::kName; });
}

std::string rnn_parameter_name(RnnParam kind, int layer, int direction) {
  static constexpr const char* kKinds[] = {"weight_ih", "weight_hh", "bias_ih", "bias_hh"};
  const int k = static_cast<int>(kind);
  check(k >= 0 && k < kRnnParamKinds, fmt::format("rnn_parameter_name: kind must be in [0, 4), got {}", k));
  return fmt::format("{}_l{}{}", kKinds[k], layer, direction == 1 ? "_reverse" : "");
}

template <Scalar T>
std::vector<int> add_rnn_parameters(ParameterStore<T>& store, const RnnConfig& config,
                                    const std::string& prefix) {
  fused::check_rnn_config(config);
  const int64_t H = config.hidden_size;
  const int64_t GH = gate_count(config.cell) * H;
  const int D = config.bidirectional ? 2 : 1;
  std::vector<int> indices;
  for (int l = 0; l < config.num_layers; ++l) {
    const int64_t in = l == 0 ? config.input_size : D * H;
    for (int d = 0; d < D; ++d) {
      indices.push_back(store.add(prefix + rnn_parameter_name(RnnParam::kWeightIh, l, d), Shape{GH, in}));
      indices.push_back(store.add(prefix + rnn_parameter_name(RnnParam::kWeightHh, l, d), Shape{GH, H}));
      indices.push_back(store.add(prefix + rnn_parameter_name(RnnParam::kBiasIh, l, d), Shape{GH}));
      indices.push_back(store.add(prefix + rnn_parameter_name(RnnParam::kBiasHh, l, d), Shape{GH}));
    }
  }
  return indices;
}

template <Scalar T>
void Rnn<T>::reset_parameters(Rng& rng) {
  const double bound = 1.0 / std::sqrt(static_cast<double>(config_.hidden_size));
  for (int index : parameter_indices_)
    for (T& v : store_->value(index).span()) v = static_cast<T>(rng.uniform(-bound, bound));
}

template std::vector<int> add_rnn_parameters<float>(ParameterStore<float>&, const RnnConfig&,
                                                    const std::string&);
template std::vector<int> add_rnn_parameters<double>(ParameterStore<double>&, const RnnConfig&,
                                                     const std::string&);
template void Rnn<float>::reset_parameters(Rng&);
template void Rnn<double>::reset_parameters(Rng&);

}  // namespace recur
