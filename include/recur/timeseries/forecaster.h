// One-step-ahead regression models for a series: each maps the window of the L previous values
// x_{t-L} .. x_{t-1} to a prediction of x_t (d2l 9.1), trained with the library's autograd and
// optimizers on the squared loss mean((yhat - y)^2).
//
//   linear  yhat = w . x + b                                   (d2l's model; w [1, L], b [1])
//   mlp     yhat = W2 relu(W1 x + b1) + b2                      (W1 [H, L], W2 [1, H])
//   gru     h_L = GRU(x_{t-L}, .., x_{t-1}) over the window as a sequence of L scalars
//           (time-major [L, B, 1], one layer, h_0 = 0), yhat = W h_L + b  (W [1, H])
//
// Parameter slots: "linear.weight", "linear.bias"; "hidden.weight", "hidden.bias", "output.weight",
// "output.bias"; "rnn.*" (see recur/nn/rnn.h) and "head.weight", "head.bias".
// Initialization: the linear model as d2l (w ~ N(0, 0.01^2), b = 0), the others PyTorch's defaults
// (U(-1/sqrt(fan_in), 1/sqrt(fan_in)); U(-1/sqrt(H), 1/sqrt(H)) for the GRU).
// The models see whatever scale they are given: callers standardize the series first in double
// precision (SeriesScaler::transform_all), run the models on the scaled values and map the
// forecasts back (SeriesScaler::inverse_all), which keeps SGD and Adam stable and the float
// arithmetic of the models within range.
#pragma once

#include <concepts>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "recur/autograd/graph.h"
#include "recur/core/parameters.h"
#include "recur/core/rng.h"
#include "recur/core/tensor.h"
#include "recur/timeseries/series_features.h"

namespace recur {

template <Scalar T>
class Rnn;

enum class ForecastModel { kLinear, kMlp, kGru };

// "linear", "mlp", "gru".
[[nodiscard]] std::string_view forecast_model_name(ForecastModel model);
// The inverse; throws ValueError listing the names for any other.
[[nodiscard]] ForecastModel parse_forecast_model(std::string_view name);

// Bounds on the sizes a user picks, checked before anything is allocated.
inline constexpr int kMaxForecastLags = 10'000;
inline constexpr int kMaxForecastHidden = 4096;

struct ForecasterConfig {
  ForecastModel model = ForecastModel::kLinear;
  int lags = 4;          // L, in [1, kMaxForecastLags]
  int hidden_size = 10;  // H for mlp and gru, in [1, kMaxForecastHidden]
};

struct ForecastTrainOptions {
  int epochs = 50;                 // >= 1, passes over the examples
  int batch_size = 16;             // >= 1 (the last batch of an epoch may be smaller)
  std::string optimizer = "adam";  // "sgd", "adam" or "adamw" (recur/optim.h)
  double lr = 0.01;                // > 0
  double clip_norm = 1.0;          // global gradient-norm clip; 0 turns it off
  int threads = 1;                 // training graph's ComputeContext::threads, in [1, kMaxThreads]
};

struct ForecastTrainReport {
  std::vector<double> epoch_losses;  // [epochs]: mean training loss of each epoch
  double last_grad_norm = 0.0;       // norm before clipping, last step
  int64_t steps = 0;
};

class Forecaster {
 public:
  // Registers and initializes the parameters from `rng`. Throws ValueError for a bad config.
  Forecaster(const ForecasterConfig& config, Rng& rng);
  ~Forecaster();
  Forecaster(Forecaster&&) noexcept;
  Forecaster& operator=(Forecaster&&) noexcept;
  Forecaster(const Forecaster&) = delete;
  Forecaster& operator=(const Forecaster&) = delete;

  [[nodiscard]] const ForecasterConfig& config() const { return config_; }
  [[nodiscard]] ParameterStore<float>& parameters() { return *store_; }

  // Minibatch training on examples (features [N, L], labels [N, 1]); `rng` shuffles the examples
  // each epoch. Stops with NumericError naming the epoch and step when the loss is not finite.
  // Throws ShapeError when the features do not have L columns, ValueError for bad options.
  ForecastTrainReport fit(const LagExamples& examples, const ForecastTrainOptions& options, Rng& rng);

  // Predictions for windows [N, L], in row order (no gradients recorded).
  [[nodiscard]] std::vector<double> predict(const Tensor<float>& windows);

  // The model's output [N, 1] for windows [N, L] recorded in `g` (for training and tests).
  Var forward(Graph<float>& g, const Tensor<float>& windows);

 private:
  ForecasterConfig config_;
  std::unique_ptr<ParameterStore<float>> store_;  // heap-held: the Rnn keeps a pointer to it
  std::unique_ptr<Rnn<float>> rnn_;               // gru only
};

// Anything with predict(windows [N, L]) -> N values: a Forecaster, or a fixed rule in tests.
template <typename P>
concept WindowPredictor = requires(P& p, const Tensor<float>& windows) {
  { p.predict(windows) } -> std::same_as<std::vector<double>>;
};

}  // namespace recur
