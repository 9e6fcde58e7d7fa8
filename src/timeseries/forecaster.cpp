// Linear, MLP and GRU one-step forecasters over lag windows, and their minibatch training loop.
#include "recur/timeseries/forecaster.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "recur/autograd/ops.h"
#include "recur/core/checked_size.h"
#include "recur/core/error.h"
#include "recur/nn/init.h"
#include "recur/nn/rnn.h"
#include "recur/optim/grad_clip.h"
#include "recur/optim/optimizer.h"

namespace recur {

std::string_view forecast_model_name(ForecastModel model) {
  switch (model) {
    case ForecastModel::kLinear:
      return "linear";
    case ForecastModel::kMlp:
      return "mlp";
    case ForecastModel::kGru:
      return "gru";
  }
  return "linear";
}

ForecastModel parse_forecast_model(std::string_view name) {
  for (auto m : {ForecastModel::kLinear, ForecastModel::kMlp, ForecastModel::kGru}) {
    if (forecast_model_name(m) == name) return m;
  }
  throw ValueError(fmt::format("forecast model must be one of linear, mlp, gru, got '{}'", name));
}

Forecaster::Forecaster(const ForecasterConfig& config, Rng& rng)
    : config_(config), store_(std::make_unique<ParameterStore<float>>()) {
  check_size_range(config.lags, 1, kMaxForecastLags, "Forecaster: lags");
  check_size_range(config.hidden_size, 1, kMaxForecastHidden, "Forecaster: hidden_size");
  const int64_t L = config.lags;
  const int64_t H = config.hidden_size;
  auto& s = *store_;
  switch (config.model) {
    case ForecastModel::kLinear: {
      int w = s.add("linear.weight", Shape{1, L});
      (void)s.add("linear.bias", Shape{1});
      init_normal(s.value(w).span(), 0.0, 0.01, rng);  // the bias stays 0
      break;
    }
    case ForecastModel::kMlp: {
      int w1 = s.add("hidden.weight", Shape{H, L});
      int b1 = s.add("hidden.bias", Shape{H});
      int w2 = s.add("output.weight", Shape{1, H});
      int b2 = s.add("output.bias", Shape{1});
      for (int i : {w1, b1}) init_uniform_fan(s.value(i).span(), L, rng);
      for (int i : {w2, b2}) init_uniform_fan(s.value(i).span(), H, rng);
      break;
    }
    case ForecastModel::kGru: {
      rnn_ = std::make_unique<Rnn<float>>(
          s, RnnConfig{.cell = CellType::kGru, .input_size = 1, .hidden_size = H});
      int w = s.add("head.weight", Shape{1, H});
      int b = s.add("head.bias", Shape{1});
      rnn_->reset_parameters(rng);
      for (int i : {w, b}) init_uniform_fan(s.value(i).span(), H, rng);
      break;
    }
  }
}

Forecaster::~Forecaster() = default;
Forecaster::Forecaster(Forecaster&&) noexcept = default;
Forecaster& Forecaster::operator=(Forecaster&&) noexcept = default;

Var Forecaster::forward(Graph<float>& g, const Tensor<float>& windows) {
  const int64_t L = config_.lags;
  if (windows.shape().rank() != 2 || windows.shape()[1] != L || windows.shape()[0] < 1) {
    throw ShapeError(fmt::format("Forecaster::forward: windows must be [N, {}] with N >= 1, got {}", L,
                                 windows.shape().str()));
  }
  auto& s = *store_;
  auto param = [&](const char* name) {
    int i = s.index_of(name);
    return g.parameter(s.value(i), s.grad(i));
  };
  switch (config_.model) {
    case ForecastModel::kLinear:
      return linear(g, g.input(windows), param("linear.weight"), param("linear.bias"));
    case ForecastModel::kMlp: {
      Var hidden = relu(g, linear(g, g.input(windows), param("hidden.weight"), param("hidden.bias")));
      return linear(g, hidden, param("output.weight"), param("output.bias"));
    }
    case ForecastModel::kGru: {
      const int64_t N = windows.shape()[0];
      Tensor<float> sequence(Shape{L, N, 1});  // time-major: sequence[t, n] = windows[n, t]
      for (int64_t n = 0; n < N; ++n) {
        for (int64_t t = 0; t < L; ++t) sequence[t * N + n] = windows.at(n, t);
      }
      RnnOutputs out = rnn_->forward(g, g.input(std::move(sequence)));
      Var last = reshape(g, out.h_n, Shape{N, config_.hidden_size});  // [1, N, H] -> [N, H]
      return linear(g, last, param("head.weight"), param("head.bias"));
    }
  }
  throw Error("Forecaster::forward: unknown model");
}

ForecastTrainReport Forecaster::fit(const LagExamples& examples, const ForecastTrainOptions& options,
                                    Rng& rng) {
  const int64_t L = config_.lags;
  const Shape& fs = examples.features.shape();
  if (fs.rank() != 2 || fs[1] != L || fs[0] < 1 || examples.labels.numel() != fs[0]) {
    throw ShapeError(
        fmt::format("Forecaster::fit: features must be [N, {}] with N >= 1 and labels [N, 1], got {} and {}",
                    L, fs.str(), examples.labels.shape().str()));
  }
  if (options.epochs < 1)
    throw ValueError(fmt::format("Forecaster::fit: epochs must be >= 1, got {}", options.epochs));
  if (options.batch_size < 1) {
    throw ValueError(fmt::format("Forecaster::fit: batch_size must be >= 1, got {}", options.batch_size));
  }
  if (!(options.clip_norm >= 0.0) || !std::isfinite(options.clip_norm)) {
    throw ValueError(
        fmt::format("Forecaster::fit: clip_norm must be finite and >= 0, got {}", options.clip_norm));
  }
  OptimizerOptions optimizer_options;
  optimizer_options.lr = options.lr;
  auto optimizer = make_optimizer<float>(options.optimizer, optimizer_options);

  const int64_t N = fs[0];
  std::vector<int64_t> order(static_cast<size_t>(N));
  std::iota(order.begin(), order.end(), int64_t{0});
  ForecastTrainReport report;
  Graph<float> g(ComputeContext{.threads = options.threads});  // throws ValueError for a bad count
  auto& s = *store_;
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    rng.shuffle(std::span<int64_t>(order));
    double loss_sum = 0.0;
    for (int64_t start = 0; start < N; start += options.batch_size) {
      const int64_t B = std::min<int64_t>(options.batch_size, N - start);
      Tensor<float> windows(Shape{B, L});  // [B, L]
      Tensor<float> targets(Shape{B, 1});  // [B, 1]
      for (int64_t b = 0; b < B; ++b) {
        const int64_t row = order[static_cast<size_t>(start + b)];
        std::copy_n(examples.features.data() + row * L, L, windows.data() + b * L);
        targets[b] = examples.labels[row];
      }
      g.clear();
      s.zero_grads();
      Var diff = sub(g, forward(g, windows), g.input(std::move(targets)));
      Var loss = mean(g, mul(g, diff, diff));
      const double value = g.item(loss);
      check_finite(value, "forecaster training loss",
                   fmt::format("epoch {}, step {}", epoch, report.steps + 1));
      g.backward(loss);
      report.last_grad_norm = options.clip_norm > 0.0
                                  ? static_cast<double>(clip_grad_norm(s.grads(), options.clip_norm))
                                  : static_cast<double>(grad_norm(s.grads()));
      check_finite(report.last_grad_norm, "forecaster gradient norm",
                   fmt::format("epoch {}, step {}", epoch, report.steps + 1));
      optimizer->step(s);
      loss_sum += value * static_cast<double>(B);
      ++report.steps;
    }
    report.epoch_losses.push_back(loss_sum / static_cast<double>(N));
  }
  g.clear();
  return report;
}

std::vector<double> Forecaster::predict(const Tensor<float>& windows) {
  // One thread: windows are too few and the models too small for the stack or a GEMM to split
  // (their thresholds in nn/sequence.h and kernels/gemm.cpp).
  Graph<float> g;
  NoGradGuard<float> no_grad(g);
  Var out = forward(g, windows);
  const float* values = g.value(out);
  return std::vector<double>(values, values + g.shape(out).numel());
}

}  // namespace recur
