// SGD, Adam and AdamW against hand-worked steps and closed forms on 1-3 element problems, state
// round trips for checkpoints, and the hyperparameter checks.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "recur/core/error.h"
#include "recur/optim/optimizer.h"

using namespace recur;

namespace {

// Float runs the same cases; PyTorch also does the element arithmetic in the tensor's dtype.
template <typename T>
double tolerance() {
  return std::is_same_v<T, float> ? 2e-6 : 1e-13;
}

// Runs `steps` steps of `opt` with a constant gradient on a copy of p0 and returns the values.
template <Scalar T>
std::vector<T> run_constant(Optimizer<T>& opt, std::vector<T> p, const std::vector<T>& g, int steps) {
  for (int s = 0; s < steps; ++s) opt.step(std::span<T>(p), std::span<const T>(g));
  return p;
}

template <Scalar T>
void expect_values_near(const std::vector<T>& actual, const std::vector<double>& expected, const char* what) {
  ASSERT_EQ(actual.size(), expected.size()) << what;
  for (size_t i = 0; i < expected.size(); ++i)
    EXPECT_NEAR(actual[i], expected[i], tolerance<T>() * std::max(1.0, std::abs(expected[i])))
        << what << ": first difference at index " << i;
}

// Expects `fn` to throw E whose message contains every one of `words`.
template <typename E, typename Fn>
void expect_error(Fn&& fn, std::initializer_list<std::string> words) {
  try {
    fn();
    ADD_FAILURE() << "expected an exception";
  } catch (const E& e) {
    const std::string msg = e.what();
    for (const auto& w : words) EXPECT_NE(msg.find(w), std::string::npos) << "'" << w << "' not in: " << msg;
  }
}

}  // namespace

template <typename T>
class OptimTest : public ::testing::Test {};
using ScalarTypes = ::testing::Types<float, double>;
TYPED_TEST_SUITE(OptimTest, ScalarTypes);

// ---- SGD ----------------------------------------------------------------------------------------

TYPED_TEST(OptimTest, SgdPlainStepIsLrTimesGradient) {
  using T = TypeParam;
  Sgd<T> opt({.lr = 0.1});
  // p - 0.1 g with p = [1, -2, 0.5], g = [0.5, 1, -2]
  expect_values_near(run_constant<T>(opt, {1, -2, 0.5}, {0.5, 1, -2}, 1), {0.95, -2.1, 0.7}, "sgd");
  EXPECT_EQ(opt.steps_taken(), 1);
}

TYPED_TEST(OptimTest, SgdWeightDecayAddsL2Term) {
  using T = TypeParam;
  Sgd<T> opt({.lr = 0.1, .weight_decay = 0.1});
  // d = g + 0.1 p = [0.6, 0.8, -1.95]
  expect_values_near(run_constant<T>(opt, {1, -2, 0.5}, {0.5, 1, -2}, 1), {0.94, -2.08, 0.695}, "sgd wd");
}

TYPED_TEST(OptimTest, SgdMomentumWithConstantGradient) {
  using T = TypeParam;
  // buf_1 = g (no dampening on the first step), buf_2 = 1.9 g, buf_3 = 2.71 g; p moves by lr * 5.61 g.
  Sgd<T> opt({.lr = 0.1, .momentum = 0.9});
  expect_values_near(run_constant<T>(opt, {1, -1}, {1, 0.5}, 3), {1 - 0.561, -1 - 0.2805}, "momentum");
}

TYPED_TEST(OptimTest, SgdDampeningSkipsFirstStep) {
  using T = TypeParam;
  // buf_1 = g, buf_2 = 0.9 g + 0.5 g = 1.4 g, buf_3 = 0.9 * 1.4 g + 0.5 g = 1.76 g; total 4.16 g.
  Sgd<T> opt({.lr = 0.1, .momentum = 0.9, .dampening = 0.5});
  expect_values_near(run_constant<T>(opt, {1, -1}, {1, 0.5}, 3), {1 - 0.416, -1 - 0.208}, "dampening");
}

TYPED_TEST(OptimTest, SgdNesterovLooksAhead) {
  using T = TypeParam;
  // d_t = g + 0.9 buf_t: 1.9 g, 2.71 g, 3.439 g; total 8.049 g.
  Sgd<T> opt({.lr = 0.1, .momentum = 0.9, .nesterov = true});
  expect_values_near(run_constant<T>(opt, {1, -1}, {1, 0.5}, 3), {1 - 0.8049, -1 - 0.40245}, "nesterov");
}

TYPED_TEST(OptimTest, SgdMomentumWithWeightDecayUsesDecayedGradientInBuffer) {
  using T = TypeParam;
  // p0 = 1, g = 0.5, wd = 0.1, lr = 0.1, momentum = 0.9:
  // d1 = 0.6, buf1 = 0.6, p1 = 0.94; d2 = 0.5 + 0.094 = 0.594, buf2 = 0.54 + 0.594 = 1.134, p2 = 0.8266
  Sgd<T> opt({.lr = 0.1, .momentum = 0.9, .weight_decay = 0.1});
  expect_values_near(run_constant<T>(opt, {1}, {0.5}, 2), {0.8266}, "momentum + wd");
}

// ---- Adam / AdamW --------------------------------------------------------------------------------

TYPED_TEST(OptimTest, AdamFirstStepIsLrTimesSignAfterBiasCorrection) {
  using T = TypeParam;
  // m1 = (1-b1) g, v1 = (1-b2) g^2, so m_hat = g, sqrt(v_hat) = |g|: p -= lr g / (|g| + eps).
  Adam<T> opt({.lr = 0.1, .eps = 1e-3});
  expect_values_near(run_constant<T>(opt, {1, -2, 0.5}, {0.5, -1, 2}, 1),
                     {1 - 0.1 * 0.5 / 0.501, -2 + 0.1 * 1 / 1.001, 0.5 - 0.1 * 2 / 2.001}, "adam step 1");
}

TYPED_TEST(OptimTest, AdamBiasCorrectionMakesConstantGradientStepsEqual) {
  using T = TypeParam;
  // With a constant g, m_t = (1-b1^t) g and v_t = (1-b2^t) g^2, so every corrected step is lr g/(|g|+eps).
  Adam<T> opt({.lr = 0.01, .beta1 = 0.8, .beta2 = 0.9, .eps = 1e-2});
  expect_values_near(run_constant<T>(opt, {1, -1}, {0.25, -4}, 4),
                     {1 - 4 * 0.01 * 0.25 / 0.26, -1 + 4 * 0.01 * 4 / 4.01}, "adam constant");
}

TYPED_TEST(OptimTest, AdamTwoStepsByHand) {
  using T = TypeParam;
  // g1 = 1, g2 = -0.5, b1 = 0.9, b2 = 0.999, lr = 0.1, eps = 1e-8, p0 = 0.
  // step 1: m = 0.1, v = 0.001 -> p1 = -0.1 / (1 + 1e-8)
  // step 2: m = 0.09 - 0.05 = 0.04, v = 0.000999 + 0.00025 = 0.001249, bc1 = 0.19, bc2 = 0.001999
  //         p2 = p1 - (0.1/0.19) * 0.04 / (sqrt(0.001249)/sqrt(0.001999) + 1e-8)
  Adam<T> opt({.lr = 0.1});
  std::vector<T> p = {0};
  std::vector<T> g = {1};
  opt.step(std::span<T>(p), std::span<const T>(g));
  const double p1 = -0.1 / (1 + 1e-8);
  expect_values_near(p, {p1}, "adam step 1");
  g = {-0.5};
  opt.step(std::span<T>(p), std::span<const T>(g));
  const double p2 = p1 - (0.1 / 0.19) * 0.04 / (std::sqrt(0.001249) / std::sqrt(0.001999) + 1e-8);
  expect_values_near(p, {p2}, "adam step 2");
  EXPECT_EQ(opt.steps_taken(), 2);
}

TYPED_TEST(OptimTest, AdamL2AndAdamWDecoupledDecayDiffer) {
  using T = TypeParam;
  // p0 = 2, g = 0.5, lr = 0.1, wd = 0.1, eps = 1e-3.
  // Adam (L2): g' = 0.5 + 0.2 = 0.7, p1 = 2 - 0.1 * 0.7 / 0.701.
  // AdamW: p *= 1 - 0.01, then p1 = 1.98 - 0.1 * 0.5 / 0.501.
  Adam<T> adam({.lr = 0.1, .eps = 1e-3, .weight_decay = 0.1});
  Adam<T> adamw({.lr = 0.1, .eps = 1e-3, .weight_decay = 0.1, .decoupled_weight_decay = true});
  EXPECT_EQ(adam.name(), "adam");
  EXPECT_EQ(adamw.name(), "adamw");
  expect_values_near(run_constant<T>(adam, {2}, {0.5}, 1), {2 - 0.1 * 0.7 / 0.701}, "adam l2");
  expect_values_near(run_constant<T>(adamw, {2}, {0.5}, 1), {1.98 - 0.1 * 0.5 / 0.501}, "adamw");
  // A zero gradient: L2 still moves p by about lr; decoupled decay only shrinks it by lr*wd.
  Adam<T> adam0({.lr = 0.1, .eps = 1e-3, .weight_decay = 0.1});
  Adam<T> adamw0(adamw_options(0.1, 0.1));
  expect_values_near(run_constant<T>(adam0, {2}, {0}, 1), {2 - 0.1 * 0.2 / 0.201}, "adam l2, g = 0");
  expect_values_near(run_constant<T>(adamw0, {2}, {0}, 1), {1.98}, "adamw, g = 0");
}

TYPED_TEST(OptimTest, SetLrChangesTheNextStep) {
  using T = TypeParam;
  Sgd<T> opt({.lr = 0.1});
  std::vector<T> p = {1};
  const std::vector<T> g = {1};
  opt.step(std::span<T>(p), std::span<const T>(g));
  opt.set_lr(0.5);
  EXPECT_EQ(opt.lr(), 0.5);
  opt.step(std::span<T>(p), std::span<const T>(g));
  expect_values_near(p, {0.4}, "set_lr");
}

TYPED_TEST(OptimTest, StepsAParameterStore) {
  using T = TypeParam;
  ParameterStore<T> store;
  (void)store.add("w", Shape{2});
  store.values()[0] = 1;
  store.values()[1] = 2;
  store.grads()[0] = 1;
  store.grads()[1] = -1;
  auto opt = make_optimizer<T>("sgd", {.lr = 0.5});
  opt->step(store);
  expect_values_near(std::vector<T>(store.values().begin(), store.values().end()), {0.5, 2.5}, "store");
}

// ---- State round trips -------------------------------------------------------------------------

namespace {
// A gradient that depends on the values and the step, so that a resumed run diverges if any state is lost.
template <Scalar T>
std::vector<T> gradient_at(const std::vector<T>& p, int step) {
  std::vector<T> g(p.size());
  for (size_t i = 0; i < p.size(); ++i)
    g[i] =
        static_cast<T>(std::sin(0.7 * static_cast<double>(i) + 0.3 * step) + 0.5 * static_cast<double>(p[i]));
  return g;
}

template <Scalar T>
void expect_resume_is_identical(const std::string& name, const OptimizerOptions& options) {
  SCOPED_TRACE(name);
  auto first = make_optimizer<T>(name, options);
  std::vector<T> p = {0.5, -1, 2, 0.25, -0.75};
  int s = 0;
  for (; s < 3; ++s) first->step(std::span<T>(p), std::span<const T>(gradient_at(p, s)));

  const OptimizerState<T> saved = first->state();
  EXPECT_EQ(saved.optimizer, name);
  EXPECT_EQ(saved.step, 3);
  auto resumed = make_optimizer<T>(name, options);
  resumed->load_state(saved, static_cast<int64_t>(p.size()));
  EXPECT_EQ(resumed->steps_taken(), 3);

  std::vector<T> q = p;
  for (; s < 7; ++s) {
    first->step(std::span<T>(p), std::span<const T>(gradient_at(p, s)));
    resumed->step(std::span<T>(q), std::span<const T>(gradient_at(q, s)));
  }
  for (size_t i = 0; i < p.size(); ++i) EXPECT_EQ(p[i], q[i]) << "index " << i;  // bit for bit

  // A fresh optimizer without the state takes a different path (so the test can tell).
  std::vector<T> r = p;
  auto fresh = make_optimizer<T>(name, options);
  auto again = make_optimizer<T>(name, options);
  again->load_state(first->state(), static_cast<int64_t>(p.size()));
  const auto g = gradient_at(r, s);
  std::vector<T> r2 = r;
  fresh->step(std::span<T>(r), std::span<const T>(g));
  again->step(std::span<T>(r2), std::span<const T>(g));
  EXPECT_NE(r, r2);
}
}  // namespace

TYPED_TEST(OptimTest, StateRoundTripContinuesIdentically) {
  using T = TypeParam;
  expect_resume_is_identical<T>("sgd", {.lr = 0.1, .momentum = 0.9, .weight_decay = 0.01});
  expect_resume_is_identical<T>("sgd", {.lr = 0.1, .momentum = 0.9, .nesterov = true});
  expect_resume_is_identical<T>("adam", {.lr = 0.05, .weight_decay = 0.01});
  expect_resume_is_identical<T>("adamw", {.lr = 0.05});
}

TEST(OptimState, NamesTheBuffersAsPyTorchDoes) {
  Adam<double> adam;
  std::vector<double> p = {1, 2}, g = {0.1, 0.2};
  adam.step(std::span<double>(p), std::span<const double>(g));
  const auto s = adam.state();
  ASSERT_EQ(s.buffers.size(), 2u);
  EXPECT_EQ(s.buffers[0].name, "exp_avg");
  EXPECT_EQ(s.buffers[1].name, "exp_avg_sq");
  EXPECT_NEAR(s.buffers[0].values[1], 0.1 * 0.2, 1e-15);
  EXPECT_NEAR(s.buffers[1].values[1], 0.001 * 0.04, 1e-15);
  EXPECT_TRUE(Sgd<double>().state().buffers.empty());  // no momentum: no buffer
  EXPECT_EQ(Sgd<double>({.momentum = 0.5}).state().buffers.at(0).name, "momentum_buffer");
}

TEST(OptimState, LoadChecksKindNamesAndSizes) {
  Adam<double> adam;
  std::vector<double> p = {1, 2, 3}, g = {0.1, 0.2, 0.3};
  adam.step(std::span<double>(p), std::span<const double>(g));
  const auto saved = adam.state();

  expect_error<ValueError>([&] { Sgd<double>({.momentum = 0.9}).load_state(saved, 3); }, {"adam", "sgd"});
  expect_error<ValueError>([&] { Adam<double>(adamw_options()).load_state(saved, 3); }, {"adam", "adamw"});
  expect_error<ValueError>([&] { Adam<double>().load_state(saved, 4); }, {"exp_avg", "3", "4"});
  auto renamed = saved;
  renamed.buffers[1].name = "v";
  expect_error<ValueError>([&] { Adam<double>().load_state(renamed, 3); }, {"exp_avg_sq", "'v'"});
  auto truncated = saved;
  truncated.buffers.pop_back();
  expect_error<ValueError>([&] { Adam<double>().load_state(truncated, 3); }, {"expected 2 buffers", "got 1"});
  auto negative = saved;
  negative.step = -1;
  expect_error<ValueError>([&] { Adam<double>().load_state(negative, 3); }, {"step", "-1"});

  // A loaded optimizer is bound to its size: stepping another size is a shape error.
  Adam<double> loaded;
  loaded.load_state(saved, 3);
  std::vector<double> p4 = {1, 2, 3, 4}, g4 = {1, 1, 1, 1};
  expect_error<ShapeError>([&] { loaded.step(std::span<double>(p4), std::span<const double>(g4)); },
                           {"3", "4"});
}

TEST(OptimState, StepRejectsMismatchedSizes) {
  Sgd<float> opt;
  std::vector<float> p = {1, 2}, g = {1};
  expect_error<ShapeError>([&] { opt.step(std::span<float>(p), std::span<const float>(g)); }, {"2", "1"});
  std::vector<float> g2 = {1, 1};
  opt.step(std::span<float>(p), std::span<const float>(g2));
  std::vector<float> p3 = {1, 2, 3}, g3 = {1, 1, 1};
  expect_error<ShapeError>([&] { opt.step(std::span<float>(p3), std::span<const float>(g3)); },
                           {"expected 2", "got 3"});
}

// ---- Hyperparameter checks ----------------------------------------------------------------------

TEST(OptimOptions, BadHyperparametersThrowValueErrorNamingTheValue) {
  expect_error<ValueError>([] { Sgd<float>({.lr = -0.1}); }, {"SGD", "lr", "-0.1"});
  expect_error<ValueError>([] { Sgd<float>({.lr = std::nan("")}); }, {"lr", "nan"});
  expect_error<ValueError>([] { Sgd<float>({.momentum = -0.5}); }, {"momentum", "-0.5"});
  expect_error<ValueError>([] { Sgd<float>({.dampening = 1.5}); }, {"dampening", "1.5"});
  expect_error<ValueError>([] { Sgd<float>({.weight_decay = -1}); }, {"weight_decay", "-1"});
  expect_error<ValueError>([] { Sgd<float>({.nesterov = true}); }, {"momentum", "nesterov"});
  expect_error<ValueError>([] { Sgd<float>({.momentum = 0.9, .dampening = 0.1, .nesterov = true}); },
                           {"dampening", "nesterov", "0.1"});
  expect_error<ValueError>([] { Adam<double>({.lr = INFINITY}); }, {"Adam", "lr", "inf"});
  expect_error<ValueError>([] { Adam<double>({.beta1 = 1.0}); }, {"beta1", "[0, 1)", "1"});
  expect_error<ValueError>([] { Adam<double>({.beta2 = -0.1}); }, {"beta2", "-0.1"});
  expect_error<ValueError>([] { Adam<double>({.eps = -1e-8}); }, {"eps", "-1e-08"});
  expect_error<ValueError>([] { Adam<double>(adamw_options(1e-3, -0.5)); },
                           {"AdamW", "weight_decay", "-0.5"});
  Adam<double> adam;
  expect_error<ValueError>([&] { adam.set_lr(-2); }, {"lr", "-2"});
  EXPECT_EQ(adam.lr(), 1e-3);  // unchanged after the failed set
}

TEST(OptimFactory, KnowsSgdAdamAdamW) {
  ASSERT_EQ(optimizer_names().size(), 3u);
  for (auto name : optimizer_names()) EXPECT_EQ(make_optimizer<float>(name, {})->name(), name);
  auto adamw = make_optimizer<double>("adamw", {.lr = 0.01});
  EXPECT_EQ(dynamic_cast<Adam<double>&>(*adamw).options().weight_decay, 1e-2);  // PyTorch AdamW default
  EXPECT_EQ(adamw->lr(), 0.01);
  auto adam = make_optimizer<double>("adam", {});
  EXPECT_EQ(dynamic_cast<Adam<double>&>(*adam).options().weight_decay, 0.0);
  auto sgd = make_optimizer<double>("sgd", {.momentum = 0.9, .nesterov = true, .weight_decay = 0.5});
  const auto& so = dynamic_cast<Sgd<double>&>(*sgd).options();
  EXPECT_EQ(so.momentum, 0.9);
  EXPECT_TRUE(so.nesterov);
  EXPECT_EQ(so.weight_decay, 0.5);
}

TEST(OptimFactory, RejectsUnknownNamesAndInapplicableOptions) {
  expect_error<ValueError>([] { (void)make_optimizer<float>("rmsprop", {}); },
                           {"rmsprop", "sgd, adam, adamw"});
  expect_error<ValueError>([] { (void)make_optimizer<float>("adam", {.momentum = 0.9}); },
                           {"momentum", "adam"});
  expect_error<ValueError>([] { (void)make_optimizer<float>("sgd", {.beta2 = 0.99}); },
                           {"beta2", "sgd", "0.99"});
  expect_error<ValueError>([] { (void)make_optimizer<float>("adamw", {.beta1 = 2}); }, {"beta1", "2"});
}
