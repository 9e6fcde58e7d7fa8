// `recur bench`: throughput of the training step and of generation, measured the way
// bench/compare_pytorch.py measures PyTorch (same model, same step), and of the recurrent stack
// alone, as bench/onednn_layer.cpp measures oneDNN's RNN primitives; one number on the last line.
#include <fmt/core.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iterator>
#include <memory>

#include "commands.h"
#include "lm_run.h"
#include "recur/autograd/ops.h"
#include "recur/core/error.h"
#include "recur/core/simd.h"
#include "recur/core/threads.h"
#include "recur/lm/checkpoint.h"
#include "recur/lm/evaluate.h"
#include "recur/lm/language_model.h"
#include "recur/lm/memory_estimate.h"
#include "recur/lm/run.h"
#include "recur/nn/rnn.h"
#include "recur/optim/grad_clip.h"
#include "recur/optim/optimizer.h"

namespace recur::cli {

namespace {

struct BenchOptions {
  std::string cell = "gru";
  int layers = 1;
  int64_t hidden = 256;
  int64_t batch = 32;
  int64_t steps = 35;
  int64_t vocab = 28;
  int64_t embed = 0;     // embedding size; 0 = one-hot input
  std::string data;      // a text file; empty = random tokens
  double seconds = 3.0;  // timed part (after warm-up)
  int64_t warmup = 3;    // untimed training steps first
  double lr = 1.0;
  double clip = 1.0;
  int64_t length = 2000;  // generate: tokens after the prefix
  int64_t prefix = 10;    // generate: prefix tokens
  std::string model;      // generate: a model folder; empty = random weights
  uint64_t seed = 1;
  int64_t input = 28;  // layer: input size I
};

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

// Token ids in [0, vocab): the bytes of `path` mapped to ids in order of first appearance (ids past
// vocab - 1 fold onto vocab - 1), or uniform random ids when no file is given.
std::vector<int32_t> bench_tokens(const BenchOptions& o, int64_t count, Rng& rng) {
  std::vector<int32_t> ids(static_cast<size_t>(count));
  if (o.data.empty()) {
    for (auto& id : ids) id = static_cast<int32_t>(rng.next_u64() % static_cast<uint64_t>(o.vocab));
    return ids;
  }
  std::ifstream in(o.data, std::ios::binary);
  if (!in) throw IoError("bench: cannot read --data '" + o.data + "'");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (text.empty()) throw ValueError("bench: --data '" + o.data + "' is empty");
  int table[256];
  std::fill(std::begin(table), std::end(table), -1);
  int next = 0;
  for (size_t i = 0; i < ids.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i % text.size()]);
    if (table[byte] < 0) table[byte] = std::min<int>(next++, static_cast<int>(o.vocab - 1));
    ids[i] = table[byte];
  }
  return ids;
}

// The sizes must be in range and training them must fit in memory, as for `recur train`.
void check_bench_sizes(const BenchOptions& o) {
  check(o.vocab >= 1 && o.vocab <= kMaxModelWidth,
        "bench: --vocab must be in [1, 2^24], got " + std::to_string(o.vocab));
  RunSettings s;
  s.cell = parse_cell_type(o.cell);
  s.num_layers = o.layers;
  s.hidden_size = o.hidden;
  s.embedding_size = o.embed;
  s.train.batch = o.batch;
  s.train.steps = o.steps;
  s.train.lr = o.lr;
  s.train.clip = o.clip;
  s.train.out_dir = "bench";
  try {
    validate(s);
    check_training_fits(s, o.vocab);
  } catch (const OptionError& e) {
    throw ValueError("bench: " + with_flag_name(e));
  }
}

std::unique_ptr<LanguageModel> random_model(const BenchOptions& o, Rng& rng) {
  check_bench_sizes(o);
  auto model = std::make_unique<LanguageModel>(LanguageModelConfig{.cell = parse_cell_type(o.cell),
                                                                   .num_layers = o.layers,
                                                                   .hidden_size = o.hidden,
                                                                   .embedding_size = o.embed,
                                                                   .vocab_size = o.vocab});
  model->reset_parameters(rng);
  return model;
}

// The trainer's step (src/lm/trainer.cpp): forward, cross-entropy over all steps, backward,
// clipping by global norm, SGD. State is carried across minibatches (truncated BPTT).
void bench_train(const BenchOptions& o, const ComputeContext& context) {
  check(o.batch >= 1 && o.steps >= 1 && o.vocab >= 1 && o.hidden >= 1 && o.layers >= 1,
        "bench train: --batch, --steps, --vocab, --hidden and --layers must be >= 1");
  check(o.embed >= 0, "bench train: --embed must be >= 0, got " + std::to_string(o.embed));
  Rng rng(o.seed);
  auto model = random_model(o, rng);
  const int64_t B = o.batch, T = o.steps;
  // A stream of minibatches to cycle through: 8 of them, each [T*B] inputs and targets.
  const int64_t num_batches = 8;
  const std::vector<int32_t> tokens = bench_tokens(o, num_batches * B * T + 1, rng);
  auto optimizer = make_optimizer<float>("sgd", {.lr = o.lr});
  auto& params = model->parameters();
  RecurrentState state = model->zero_state(B);
  Graph<float> g(context);
  int64_t step = 0;
  auto train_step = [&] {
    const size_t offset = static_cast<size_t>((step % num_batches) * B * T);
    std::span<const int32_t> x(tokens.data() + offset, static_cast<size_t>(B * T));
    std::span<const int32_t> y(tokens.data() + offset + 1, static_cast<size_t>(B * T));
    g.clear();
    params.zero_grads();
    Var loss = model->loss(g, x, y, T, B, state, nullptr, true);
    const double loss_value = g.item(loss);
    check_finite(loss_value, "training loss", fmt::format("bench step {}", step));
    g.backward(loss);
    (void)clip_grad_norm(params.grads(), o.clip);
    optimizer->step(params);
    ++step;
  };
  for (int64_t i = 0; i < o.warmup; ++i) train_step();
  const auto t0 = Clock::now();
  int64_t timed = 0;
  do {
    train_step();
    ++timed;
  } while (seconds_since(t0) < o.seconds);
  const double dt = seconds_since(t0);
  fmt::print(
      "cell={} layers={} hidden={} embed={} batch={} steps={} vocab={} threads={} timed_steps={} "
      "seconds={:.3f}\n",
      o.cell, o.layers, o.hidden, o.embed, B, T, o.vocab, context.threads, timed, dt);
  fmt::print("tokens_per_s={:.1f}\n", static_cast<double>(timed * B * T) / dt);
}

// Greedy generation, batch 1: `prefix` tokens warm the state up, then `length` tokens are drawn.
void bench_generate(const BenchOptions& o, const ComputeContext& context) {
  check(o.length >= 1 && o.prefix >= 1, "bench generate: --length and --prefix must be >= 1");
  Rng rng(o.seed);
  std::unique_ptr<LanguageModel> model;
  if (o.model.empty()) {
    model = random_model(o, rng);
  } else {
    model = load_model(find_model_folder(o.model)).model;
  }
  const int64_t V = model->config().vocab_size;
  BenchOptions data_options = o;
  data_options.vocab = V;
  const std::vector<int32_t> prefix = bench_tokens(data_options, o.prefix, rng);
  const SamplerOptions sampler{.greedy = true};
  const InferenceOptions inference{.threads = context.threads >= 2 ? 2 : 1};
  (void)generate_tokens(*model, prefix, std::min<int64_t>(o.length, 50), sampler, rng, inference);  // warm-up
  double best = 0;
  int64_t runs = 0;
  const auto t0 = Clock::now();
  do {
    const auto t1 = Clock::now();
    const std::vector<int32_t> out = generate_tokens(*model, prefix, o.length, sampler, rng, inference);
    best = std::max(best, static_cast<double>(out.size()) / seconds_since(t1));
    ++runs;
  } while (seconds_since(t0) < o.seconds);
  fmt::print("cell={} layers={} hidden={} vocab={} length={} threads={} runs={} (best run reported)\n",
             cell_name(model->config().cell), model->config().num_layers, model->config().hidden_size, V,
             o.length, context.threads, runs);
  fmt::print("chars_per_s={:.1f}\n", best);
}

// "rnn" is short for rnn_tanh here, as in bench/onednn_layer.cpp and bench/compare_onednn.sh.
CellType bench_cell_type(const std::string& name) {
  for (CellType c : {CellType::kRnnTanh, CellType::kRnnRelu, CellType::kGru, CellType::kLstm})
    if (name == cell_name(c) || (name == "rnn" && c == CellType::kRnnTanh)) return c;
  throw ValueError("bench layer: unknown --cell '" + name +
                   "' (expected rnn, rnn_tanh, rnn_relu, gru or lstm)");
}

// Sizes in range, and the stack's parameters, gradients, saved activations, x and dx must fit in memory.
void check_layer_sizes(const BenchOptions& o) {
  auto positive = [](int64_t value, const char* flag) {
    check(value >= 1 && value <= kMaxModelWidth,
          fmt::format("bench layer: {} must be in [1, 2^24], got {}", flag, value));
  };
  check(o.layers >= 1 && o.layers <= kMaxLayers,
        fmt::format("bench layer: --layers must be in [1, {}], got {}", kMaxLayers, o.layers));
  positive(o.hidden, "--hidden");
  positive(o.input, "--input");
  positive(o.batch, "--batch");
  positive(o.steps, "--steps");
  check(o.warmup >= 0, "bench layer: --warmup must be >= 0, got " + std::to_string(o.warmup));
  check(std::isfinite(o.seconds) && o.seconds >= 0,
        fmt::format("bench layer: --seconds must be finite and >= 0, got {}", o.seconds));
  const double G = gate_count(bench_cell_type(o.cell)), H = static_cast<double>(o.hidden);
  const double I = static_cast<double>(o.input), L = o.layers;
  const double rows = static_cast<double>(o.batch) * static_cast<double>(o.steps);
  const double params = G * H * (I + H + 2) + (L - 1) * G * H * (2 * H + 2);
  // As estimate_training_memory counts a layer: gates G*H, output H and the cell's extras 2H per row.
  const MemoryEstimate e{.parameter_bytes = 4 * params,
                         .state_bytes = 4 * params,
                         .activation_bytes = 4 * rows * (2 * I + L * (G * H + 3 * H)),
                         .logits_bytes = 0,
                         .largest_field = "hidden_size"};
  const std::string shortfall =
      memory_shortfall(e, physical_memory_bytes(), "bench layer",
                       fmt::format("--hidden {} x --layers {}, --batch {} x --steps {}", o.hidden, o.layers,
                                   o.batch, o.steps));
  check(shortfall.empty(), shortfall);
}

// Forward in training mode and backward of the recurrent stack alone, through the autograd Graph
// as the trainer records it: x [T, B, I] dense random, loss = sum of the output (so dY = ones),
// every weight, bias and input gradient computed and zeroed each iteration as training does.
// x is a leaf over external value and gradient buffers (Graph::parameter) so that no copy of x
// per iteration is timed; the zero fill of dx is, as the trainer zeroes its gradients.
void bench_layer(const BenchOptions& o, const ComputeContext& context) {
  check_layer_sizes(o);
  const CellType cell = bench_cell_type(o.cell);
  const int64_t T = o.steps, B = o.batch, I = o.input;
  ParameterStore<float> store;
  Rnn<float> rnn(store, {.cell = cell, .input_size = I, .hidden_size = o.hidden, .num_layers = o.layers});
  Rng rng(o.seed);
  rnn.reset_parameters(rng);
  std::vector<float> x(static_cast<size_t>(T * B * I));  // [T, B, I]
  for (float& v : x) v = static_cast<float>(rng.uniform(-1, 1));
  std::vector<float> dx(x.size());  // [T, B, I]
  const Shape x_shape{T, B, I};
  Graph<float> g(context);
  double loss_value = 0;
  auto iteration = [&] {
    g.clear();
    store.zero_grads();
    std::fill(dx.begin(), dx.end(), 0.0f);
    const Var xv = g.parameter({x.data(), x_shape}, {dx.data(), x_shape});
    const RnnOutputs out = rnn.forward(g, xv, std::nullopt, std::nullopt, nullptr, true);
    const Var loss = sum(g, out.output);
    g.backward(loss);
    loss_value = g.item(loss);
  };
  for (int64_t i = 0; i < o.warmup; ++i) iteration();
  const auto t0 = Clock::now();
  int64_t timed = 0;
  do {
    iteration();
    ++timed;
  } while (seconds_since(t0) < o.seconds);
  const double dt = seconds_since(t0);
  auto norm = [](std::span<const float> v) {
    double s = 0;
    for (float e : v) s += static_cast<double>(e) * e;
    return std::sqrt(s);
  };
  const double grad_norm = norm(store.grads()), dx_norm = norm(dx);
  check(std::isfinite(loss_value) && std::isfinite(grad_norm) && std::isfinite(dx_norm),
        fmt::format("bench layer: non-finite result (output sum {}, gradient norm {}, dx norm {})",
                    loss_value, grad_norm, dx_norm));
  fmt::print("layer: cell={} layers={} hidden={} input={} batch={} steps={} threads={}\n", cell_name(cell),
             o.layers, o.hidden, I, B, T, context.threads);
  const std::string details = simd_kernel_details();
  fmt::print("simd={} blas_core={}{}{}\n", simd_target(), blas_core_name(), details.empty() ? "" : " ",
             details);
  fmt::print("check: output_sum={:.6g} weight_grad_norm={:.6g} dx_norm={:.6g}\n", loss_value, grad_norm,
             dx_norm);
  fmt::print("iterations={} seconds={:.3f} ms_per_iter={:.3f} (forward in training mode + backward)\n", timed,
             dt, 1e3 * dt / static_cast<double>(timed));
  fmt::print("tokens_per_s={:.1f}\n", static_cast<double>(timed * B * T) / dt);
}

void add_model_options(CLI::App& cmd, BenchOptions& o) {
  cmd.add_option("--cell", o.cell, "rnn_tanh, rnn_relu, gru or lstm")->capture_default_str();
  cmd.add_option("--layers", o.layers, "Recurrent layers")->capture_default_str();
  cmd.add_option("--hidden", o.hidden, "Hidden size")->capture_default_str();
  cmd.add_option("--vocab", o.vocab, "Vocabulary size")->capture_default_str();
  cmd.add_option("--embed", o.embed, "Embedding size (0 = one-hot input, as char-rnn and d2l)")
      ->capture_default_str();
  cmd.add_option("--seconds", o.seconds, "Timed seconds (after warm-up)")->capture_default_str();
  cmd.add_option("--data", o.data, "Text file for token ids (default: random tokens)");
  cmd.add_option("--seed", o.seed, "Random seed for weights and tokens")->capture_default_str();
}

}  // namespace

void add_bench_command(CLI::App& app, const CommonOptions& common) {
  auto* cmd = app.add_subcommand("bench", "Measure training and generation throughput");
  cmd->require_subcommand(1);
  auto o = std::make_shared<BenchOptions>();

  auto* train =
      cmd->add_subcommand("train", "Tokens/s of the training step (forward, loss, backward, clip, SGD)");
  add_model_options(*train, *o);
  train->add_option("--batch", o->batch, "Batch size")->capture_default_str();
  train->add_option("--steps", o->steps, "Time steps per minibatch")->capture_default_str();
  train->add_option("--warmup", o->warmup, "Untimed training steps first")->capture_default_str();
  train->add_option("--lr", o->lr, "SGD learning rate")->capture_default_str();
  train->add_option("--clip", o->clip, "Gradient clipping norm")->capture_default_str();
  train->footer(
      "Example:\n  recur bench train --cell gru --layers 1 --hidden 256 --batch 32 --steps 35 --vocab 28 "
      "--threads 2");
  train->callback([o, &common] { bench_train(*o, apply_common(common)); });

  auto* gen = cmd->add_subcommand("generate", "Characters/s of greedy generation, batch 1");
  add_model_options(*gen, *o);
  gen->add_option("--length", o->length, "Tokens generated after the prefix")->capture_default_str();
  gen->add_option("--prefix", o->prefix, "Prefix tokens")->capture_default_str();
  gen->add_option("--model", o->model, "Model folder (default: random weights)");
  gen->footer(
      "Example:\n  recur bench generate --cell lstm --layers 2 --hidden 512 --vocab 65 --length 2000");
  gen->callback([o, &common] { bench_generate(*o, apply_common(common)); });

  auto* layer = cmd->add_subcommand(
      "layer",
      "Tokens/s of the recurrent stack alone: forward (training) + backward, dense input, dY = ones");
  layer->add_option("--cell", o->cell, "rnn (= rnn_tanh), rnn_relu, gru or lstm")->capture_default_str();
  layer->add_option("--layers", o->layers, "Recurrent layers")->capture_default_str();
  layer->add_option("--hidden", o->hidden, "Hidden size H")->capture_default_str();
  layer->add_option("--input", o->input, "Input size I")->capture_default_str();
  layer->add_option("--batch", o->batch, "Batch size B")->capture_default_str();
  layer->add_option("--steps", o->steps, "Time steps T")->capture_default_str();
  layer->add_option("--seconds", o->seconds, "Timed seconds (after warm-up)")->capture_default_str();
  layer->add_option("--warmup", o->warmup, "Untimed iterations first")->capture_default_str();
  layer->add_option("--seed", o->seed, "Random seed for weights and input")->capture_default_str();
  layer->footer(
      "Example:\n  recur bench layer --cell lstm --layers 2 --hidden 512 --input 65 --batch 50 --steps 50 "
      "--threads 2\nbench/onednn_layer.cpp times oneDNN on the same work (bench/compare_onednn.sh).");
  layer->callback([o, &common] { bench_layer(*o, apply_common(common)); });

  add_bench_translate_command(*cmd, common);
}

}  // namespace recur::cli
