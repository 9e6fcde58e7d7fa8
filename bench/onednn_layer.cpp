// oneDNN's RNN primitives timed on the work `recur bench layer` times: forward in training mode and
// backward of an L-layer unidirectional stack on dense random input [T, B, I], diff_dst = ones
// (loss = sum of the output), computing diff_weights_layer, diff_weights_iter, diff_bias and
// diff_src_layer. A benchmark-only program, not part of the CMake build and never linked into recur;
// bench/compare_onednn.sh builds it:
//
//   g++ -O3 -std=c++17 -fopenmp bench/onednn_layer.cpp -o onednn_layer -ldnnl
//   ./onednn_layer --cell lstm --layers 2 --hidden 512 --input 65 --batch 50 --steps 50 --threads 2
//   ./onednn_layer --cell gru --layers 2 --hidden 5 --input 3 --batch 2 --steps 4 --check
//
// Cells: rnn (vanilla RNN, tanh), gru (oneDNN's linear-before-reset GRU, lbr_gru, which is
// PyTorch's and recur's GRU: r multiplies W_hn h + b_hn), lstm. The last line is tokens_per_s=N,
// N = T * B * iterations / seconds, as `recur bench layer` prints it.
//
// What one timed iteration counts, as a training step through PyTorch's oneDNN path would: the
// reorders of the weights from the plain ldigo layout a framework keeps them in to the formats the
// forward and the backward primitive choose (format_tag::any), zeroing the weight and bias
// gradients, the forward and backward primitives, and the reorder of the weight gradients back to
// ldigo when the primitive picked another format. Initial and final states are zero / unused
// (empty memory descriptors), as in `recur bench layer`.
//
// Threads: Debian's libdnnl is built with OpenMP, so --threads N calls omp_set_num_threads(N)
// (0 = OpenMP's default, OMP_NUM_THREADS or all cores).
//
// --check runs one iteration and compares the analytic gradients of sum(output) with respect to a
// few inputs, weights and biases of every layer group against central differences (forward only,
// in double accumulation); use it on tiny sizes.
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "oneapi/dnnl/dnnl.hpp"

using namespace dnnl;
using dims = memory::dims;
using tag = memory::format_tag;
using dt = memory::data_type;

namespace {

struct Options {
  std::string cell = "gru";
  int layers = 1;
  long hidden = 256, input = 28, batch = 32, steps = 35;
  int threads = 0;
  double seconds = 3.0;
  int warmup = 3;
  unsigned seed = 1;
  bool check = false;
};

[[noreturn]] void fail(const std::string& message) {
  std::fprintf(stderr, "onednn_layer: %s\n", message.c_str());
  std::exit(1);
}

long parse_long(const char* flag, const char* text) {
  char* end = nullptr;
  const long v = std::strtol(text, &end, 10);
  if (end == text || *end != '\0') fail(std::string(flag) + " expects an integer, got '" + text + "'");
  return v;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--check") {
      o.check = true;
      continue;
    }
    if (flag == "--help" || flag == "-h") {
      std::printf(
          "usage: onednn_layer [--cell rnn|gru|lstm] [--layers L] [--hidden H] [--input I] [--batch B]\n"
          "                    [--steps T] [--threads N] [--seconds S] [--warmup W] [--seed S] [--check]\n");
      std::exit(0);
    }
    if (i + 1 >= argc) fail("missing value after " + flag);
    const char* value = argv[++i];
    if (flag == "--cell") {
      o.cell = value;
    } else if (flag == "--layers") {
      o.layers = static_cast<int>(parse_long("--layers", value));
    } else if (flag == "--hidden") {
      o.hidden = parse_long("--hidden", value);
    } else if (flag == "--input") {
      o.input = parse_long("--input", value);
    } else if (flag == "--batch") {
      o.batch = parse_long("--batch", value);
    } else if (flag == "--steps") {
      o.steps = parse_long("--steps", value);
    } else if (flag == "--threads") {
      o.threads = static_cast<int>(parse_long("--threads", value));
    } else if (flag == "--warmup") {
      o.warmup = static_cast<int>(parse_long("--warmup", value));
    } else if (flag == "--seed") {
      o.seed = static_cast<unsigned>(parse_long("--seed", value));
    } else if (flag == "--seconds") {
      char* end = nullptr;
      o.seconds = std::strtod(value, &end);
      if (end == value || *end != '\0' || !std::isfinite(o.seconds) || o.seconds < 0)
        fail(std::string("--seconds must be a finite number >= 0, got '") + value + "'");
    } else {
      fail("unknown flag " + flag);
    }
  }
  if (o.cell != "rnn" && o.cell != "gru" && o.cell != "lstm")
    fail("--cell must be rnn, gru or lstm, got '" + o.cell + "'");
  const std::pair<const char*, long> sizes[] = {{"--layers", o.layers},
                                                {"--hidden", o.hidden},
                                                {"--input", o.input},
                                                {"--batch", o.batch},
                                                {"--steps", o.steps}};
  for (const auto& [flag, v] : sizes)
    if (v < 1) fail(std::string(flag) + " must be >= 1, got " + std::to_string(v));
  if (o.threads < 0) fail("--threads must be >= 0 (0 = OpenMP's default), got " + std::to_string(o.threads));
  if (o.warmup < 0) fail("--warmup must be >= 0, got " + std::to_string(o.warmup));
  return o;
}

const char* isa_name(cpu_isa isa) {
  switch (isa) {
    case cpu_isa::sse41:
      return "sse41";
    case cpu_isa::avx:
      return "avx";
    case cpu_isa::avx2:
      return "avx2";
    case cpu_isa::avx2_vnni:
      return "avx2_vnni";
    case cpu_isa::avx512_mic:
      return "avx512_mic";
    case cpu_isa::avx512_mic_4ops:
      return "avx512_mic_4ops";
    case cpu_isa::avx512_core:
      return "avx512_core";
    case cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "all";
  }
}

float* data_of(const memory& m) { return static_cast<float*>(m.get_data_handle()); }
size_t count_of(const memory& m) { return m.get_desc().get_size() / sizeof(float); }

// Layers sharing one primitive. oneDNN's multi-layer primitive needs every layer's input width
// (SLC) equal to the hidden size (DIC) above the first, so a stack with I != H and L > 1 is two
// groups: layer 1 (I -> H) and layers 2..L (H -> H); the backward pass chains diff_src of the upper
// group into diff_dst of the lower one.
struct Group {
  long layers = 1, input = 0;        // L_g, SLC
  bool lstm = false;                 // has a cell state
  memory w_layer, w_iter, bias;      // user ldigo [L_g, 1, SLC, G, H], ldigo [L_g, 1, H, G, H], ldgo
  memory dw_layer, dw_iter, dbias;   // the same shapes and layouts, the gradients
  memory fwd_w_layer, fwd_w_iter;    // forward primitive's formats
  memory bwd_w_layer, bwd_w_iter;    // backward primitive's formats
  memory bwd_dw_layer, bwd_dw_iter;  // backward's diff weights (aliases of dw_* when plain)
  memory src, dst, diff_src, diff_dst, workspace;  // [T, B, SLC], [T, B, H], [T, B, SLC], [T, B, H]
  memory h0, c0, dh0, dc0;  // ldnc [L_g, 1, B, H]: zero initial states, their gradients
  primitive fwd, bwd;
  // Weight reorders before the forward / backward primitive and diff-weight reorders after it,
  // (primitive, from, to); created once, executed every iteration.
  std::vector<std::tuple<primitive, memory, memory>> before_fwd, before_bwd, after_bwd;
};

struct Stack {
  engine eng{engine::kind::cpu, 0};
  stream strm{eng};
  std::vector<Group> groups;
  memory x, dx, ones;  // [T, B, I], [T, B, I], [T, B, H] (diff_dst of the top group)
};

// Creates the forward and backward primitive descriptors of one group for cell type Fwd/Bwd.
// `state` describes the initial state (and LSTM cell state) and its gradient; the final state is
// not wanted. The initial state is passed as explicit zeros: with an empty src_iter descriptor,
// oneDNN 2.6.3's vanilla RNN and LSTM backward (not lbr_gru) return a wrong diff_weights_iter
// (non-zero even for T = 1, where h_{-1} = 0 makes it zero), as --check shows.
template <class Fwd, class Bwd>
void make_primitives(const engine& eng, const memory::desc& src, const memory::desc& state,
                     const memory::desc& wl, const memory::desc& wi, const memory::desc& b,
                     const memory::desc& dst, rnn_primitive_desc_base& fpd_out,
                     rnn_primitive_desc_base& bpd_out, primitive& fwd, primitive& bwd) {
  const memory::desc none;
  const auto dir = rnn_direction::unidirectional_left2right;
  const auto fwd_kind = prop_kind::forward_training;
  if constexpr (std::is_same_v<Fwd, vanilla_rnn_forward>) {
    const auto act = algorithm::eltwise_tanh;
    typename Fwd::primitive_desc fpd(typename Fwd::desc(fwd_kind, act, dir, src, state, wl, wi, b, dst, none),
                                     eng);
    typename Bwd::primitive_desc bpd(typename Bwd::desc(prop_kind::backward, act, dir, src, state, wl, wi, b,
                                                        dst, none, src, state, wl, wi, b, dst, none),
                                     eng, fpd);
    fwd = Fwd(fpd);
    bwd = Bwd(bpd);
    fpd_out = fpd;
    bpd_out = bpd;
  } else if constexpr (std::is_same_v<Fwd, lbr_gru_forward>) {
    typename Fwd::primitive_desc fpd(typename Fwd::desc(fwd_kind, dir, src, state, wl, wi, b, dst, none),
                                     eng);
    typename Bwd::primitive_desc bpd(typename Bwd::desc(prop_kind::backward, dir, src, state, wl, wi, b, dst,
                                                        none, src, state, wl, wi, b, dst, none),
                                     eng, fpd);
    fwd = Fwd(fpd);
    bwd = Bwd(bpd);
    fpd_out = fpd;
    bpd_out = bpd;
  } else {
    typename Fwd::primitive_desc fpd(
        typename Fwd::desc(fwd_kind, dir, src, state, state, wl, wi, b, dst, none, none), eng);
    typename Bwd::primitive_desc bpd(
        typename Bwd::desc(prop_kind::backward, dir, src, state, state, wl, wi, b, dst, none, none, src,
                           state, state, wl, wi, b, dst, none, none),
        eng, fpd);
    fwd = Fwd(fpd);
    bwd = Bwd(bpd);
    fpd_out = fpd;
    bpd_out = bpd;
  }
}

// A memory in the primitive's format `want`, or `user` itself when the formats agree; a reorder
// between the two is added to `reorders` (user -> primitive, or back with `back`).
memory in_format(const memory& user, const memory::desc& want, const engine& eng,
                 std::vector<std::tuple<primitive, memory, memory>>& reorders, bool back = false) {
  if (user.get_desc() == want) return user;
  memory m(want, eng);
  if (back) {
    reorders.emplace_back(reorder(m, user), m, user);
  } else {
    reorders.emplace_back(reorder(user, m), user, m);
  }
  return m;
}

void run_reorders(const std::vector<std::tuple<primitive, memory, memory>>& reorders, stream& strm) {
  for (const auto& [r, from, to] : reorders) r.execute(strm, {{DNNL_ARG_FROM, from}, {DNNL_ARG_TO, to}});
}

void zero(const memory& m) { std::memset(m.get_data_handle(), 0, m.get_desc().get_size()); }

Stack build_stack(const Options& o, std::mt19937& gen) {
  Stack s;
  const long T = o.steps, B = o.batch, H = o.hidden;
  const long G = o.cell == "rnn" ? 1 : o.cell == "gru" ? 3 : 4;
  const long bias_gates = o.cell == "gru" ? 4 : G;              // lbr_gru keeps b_hn apart from b_in
  const float bound = 1.0f / std::sqrt(static_cast<float>(H));  // PyTorch's default init
  std::uniform_real_distribution<float> weight(-bound, bound), unit(-1.0f, 1.0f);
  auto fill = [&](const memory& m, std::uniform_real_distribution<float>& d) {
    float* p = data_of(m);
    for (size_t i = 0; i < count_of(m); ++i) p[i] = d(gen);
  };

  std::vector<std::pair<long, long>> plan;  // (layers, input width) per group
  if (o.input == H || o.layers == 1) {
    plan.push_back({o.layers, o.input});
  } else {
    plan.push_back({1, o.input});
    plan.push_back({o.layers - 1, H});
  }
  s.x = memory({{T, B, o.input}, dt::f32, tag::tnc}, s.eng);
  s.dx = memory({{T, B, o.input}, dt::f32, tag::tnc}, s.eng);
  s.ones = memory({{T, B, H}, dt::f32, tag::tnc}, s.eng);
  fill(s.x, unit);
  std::fill_n(data_of(s.ones), count_of(s.ones), 1.0f);

  for (size_t k = 0; k < plan.size(); ++k) {
    Group g;
    g.layers = plan[k].first;
    g.input = plan[k].second;
    g.lstm = o.cell == "lstm";
    const long Lg = g.layers, I = g.input;
    const memory::desc wl_user({Lg, 1, I, G, H}, dt::f32, tag::ldigo);
    const memory::desc wi_user({Lg, 1, H, G, H}, dt::f32, tag::ldigo);
    const memory::desc b_user({Lg, 1, bias_gates, H}, dt::f32, tag::ldgo);
    g.w_layer = memory(wl_user, s.eng);
    g.w_iter = memory(wi_user, s.eng);
    g.bias = memory(b_user, s.eng);
    g.dw_layer = memory(wl_user, s.eng);
    g.dw_iter = memory(wi_user, s.eng);
    g.dbias = memory(b_user, s.eng);
    fill(g.w_layer, weight);
    fill(g.w_iter, weight);
    fill(g.bias, weight);

    const memory::desc src({T, B, I}, dt::f32, tag::tnc), dst({T, B, H}, dt::f32, tag::tnc);
    const memory::desc state({Lg, 1, B, H}, dt::f32, tag::ldnc);
    const memory::desc wl_any({Lg, 1, I, G, H}, dt::f32, tag::any);
    const memory::desc wi_any({Lg, 1, H, G, H}, dt::f32, tag::any);
    rnn_primitive_desc_base fpd, bpd;
    if (o.cell == "rnn") {
      make_primitives<vanilla_rnn_forward, vanilla_rnn_backward>(s.eng, src, state, wl_any, wi_any, b_user,
                                                                 dst, fpd, bpd, g.fwd, g.bwd);
    } else if (o.cell == "gru") {
      make_primitives<lbr_gru_forward, lbr_gru_backward>(s.eng, src, state, wl_any, wi_any, b_user, dst, fpd,
                                                         bpd, g.fwd, g.bwd);
    } else {
      make_primitives<lstm_forward, lstm_backward>(s.eng, src, state, wl_any, wi_any, b_user, dst, fpd, bpd,
                                                   g.fwd, g.bwd);
    }
    g.fwd_w_layer = in_format(g.w_layer, fpd.weights_layer_desc(), s.eng, g.before_fwd);
    g.fwd_w_iter = in_format(g.w_iter, fpd.weights_iter_desc(), s.eng, g.before_fwd);
    g.bwd_w_layer = in_format(g.w_layer, bpd.weights_layer_desc(), s.eng, g.before_bwd);
    g.bwd_w_iter = in_format(g.w_iter, bpd.weights_iter_desc(), s.eng, g.before_bwd);
    g.bwd_dw_layer = in_format(g.dw_layer, bpd.diff_weights_layer_desc(), s.eng, g.after_bwd, true);
    g.bwd_dw_iter = in_format(g.dw_iter, bpd.diff_weights_iter_desc(), s.eng, g.after_bwd, true);
    for (memory* m : {&g.h0, &g.c0, &g.dh0, &g.dc0}) {
      *m = memory(state, s.eng);
      zero(*m);
    }
    if (bpd.diff_bias_desc() != b_user) fail("the backward primitive wants diff_bias in a non-plain format");
    g.src = k == 0 ? s.x : s.groups.back().dst;
    g.dst = memory(dst, s.eng);
    g.diff_src = k == 0 ? s.dx : memory(src, s.eng);
    g.workspace = memory(fpd.workspace_desc(), s.eng);
    s.groups.push_back(std::move(g));
  }
  // Chain the gradients downwards: the top group gets ones, each lower one its upper's diff_src.
  for (size_t k = 0; k < s.groups.size(); ++k)
    s.groups[k].diff_dst = k + 1 == s.groups.size() ? s.ones : s.groups[k + 1].diff_src;
  return s;
}

// Weight reorders to the forward primitive's formats and the forward (training) pass bottom-up.
void forward(Stack& s) {
  for (Group& g : s.groups) {
    run_reorders(g.before_fwd, s.strm);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC_LAYER, g.src},
                                         {DNNL_ARG_SRC_ITER, g.h0},
                                         {DNNL_ARG_WEIGHTS_LAYER, g.fwd_w_layer},
                                         {DNNL_ARG_WEIGHTS_ITER, g.fwd_w_iter},
                                         {DNNL_ARG_BIAS, g.bias},
                                         {DNNL_ARG_DST_LAYER, g.dst},
                                         {DNNL_ARG_WORKSPACE, g.workspace}};
    if (g.lstm) args[DNNL_ARG_SRC_ITER_C] = g.c0;
    g.fwd.execute(s.strm, args);
  }
}

// One training iteration: forward, weight reorders for the backward primitive, zeroed gradients,
// backward top-down, weight gradients back to ldigo.
void iteration(Stack& s) {
  forward(s);
  for (Group& g : s.groups) {
    run_reorders(g.before_bwd, s.strm);
    for (const memory* m : {&g.bwd_dw_layer, &g.bwd_dw_iter, &g.dbias}) zero(*m);
  }
  for (size_t k = s.groups.size(); k-- > 0;) {
    Group& g = s.groups[k];
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC_LAYER, g.src},
                                         {DNNL_ARG_SRC_ITER, g.h0},
                                         {DNNL_ARG_WEIGHTS_LAYER, g.bwd_w_layer},
                                         {DNNL_ARG_WEIGHTS_ITER, g.bwd_w_iter},
                                         {DNNL_ARG_BIAS, g.bias},
                                         {DNNL_ARG_DST_LAYER, g.dst},
                                         {DNNL_ARG_DIFF_DST_LAYER, g.diff_dst},
                                         {DNNL_ARG_WORKSPACE, g.workspace},
                                         {DNNL_ARG_DIFF_SRC_LAYER, g.diff_src},
                                         {DNNL_ARG_DIFF_SRC_ITER, g.dh0},
                                         {DNNL_ARG_DIFF_WEIGHTS_LAYER, g.bwd_dw_layer},
                                         {DNNL_ARG_DIFF_WEIGHTS_ITER, g.bwd_dw_iter},
                                         {DNNL_ARG_DIFF_BIAS, g.dbias}};
    if (g.lstm) {
      args[DNNL_ARG_SRC_ITER_C] = g.c0;
      args[DNNL_ARG_DIFF_SRC_ITER_C] = g.dc0;
    }
    g.bwd.execute(s.strm, args);
    run_reorders(g.after_bwd, s.strm);
  }
  s.strm.wait();
}

double sum_of(const memory& m) {
  const float* p = data_of(m);
  double total = 0;
  for (size_t i = 0; i < count_of(m); ++i) total += p[i];
  return total;
}

double norm_of(const memory& m) {
  const float* p = data_of(m);
  double total = 0;
  for (size_t i = 0; i < count_of(m); ++i) total += static_cast<double>(p[i]) * p[i];
  return std::sqrt(total);
}

// Central differences of sum(output) at a few elements of x and of every group's parameters
// against the analytic gradients of the last iteration. Returns the largest relative error.
double check_gradients(Stack& s) {
  iteration(s);
  const float eps = 1e-2f;
  double worst = 0;
  auto probe = [&](const char* name, size_t group, const memory& value, const memory& grad) {
    const size_t n = count_of(value);
    for (size_t i : {size_t{0}, n / 3, n / 2, n - 1}) {
      float* v = data_of(value) + i;
      const float saved = *v;
      *v = saved + eps;
      forward(s);
      s.strm.wait();
      const double up = sum_of(s.groups.back().dst);
      *v = saved - eps;
      forward(s);
      s.strm.wait();
      const double down = sum_of(s.groups.back().dst);
      *v = saved;
      const double numeric = (up - down) / (2 * eps), analytic = data_of(grad)[i];
      const double rel =
          std::fabs(numeric - analytic) / std::max(1e-3, std::fabs(numeric) + std::fabs(analytic));
      worst = std::max(worst, rel);
      std::printf("check: group %zu %-8s [%6zu] analytic %11.5f numeric %11.5f rel %.2e\n", group, name, i,
                  analytic, numeric, rel);
    }
  };
  probe("x", 0, s.x, s.dx);
  for (size_t k = 0; k < s.groups.size(); ++k) {
    probe("w_layer", k, s.groups[k].w_layer, s.groups[k].dw_layer);
    probe("w_iter", k, s.groups[k].w_iter, s.groups[k].dw_iter);
    probe("bias", k, s.groups[k].bias, s.groups[k].dbias);
  }
  return worst;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse_options(argc, argv);
  if (o.threads > 0) omp_set_num_threads(o.threads);
  try {
    std::mt19937 gen(o.seed);
    Stack s = build_stack(o, gen);
    if (o.check) {
      const double worst = check_gradients(s);
      std::printf("check: largest relative error %.2e (bound 5e-2)\n", worst);
      return worst <= 5e-2 ? 0 : 1;
    }
    for (int i = 0; i < o.warmup; ++i) iteration(s);
    using Clock = std::chrono::steady_clock;
    const auto t0 = Clock::now();
    long timed = 0;
    double dt = 0;
    do {
      iteration(s);
      ++timed;
      dt = std::chrono::duration<double>(Clock::now() - t0).count();
    } while (dt < o.seconds);
    // Finite output and non-zero, finite gradients, else the numbers above mean nothing.
    const double out_sum = sum_of(s.groups.back().dst), dx_norm = norm_of(s.dx);
    double grad_norm2 = 0;
    for (const Group& g : s.groups)
      for (const memory* m : {&g.dw_layer, &g.dw_iter, &g.dbias}) grad_norm2 += std::pow(norm_of(*m), 2);
    const double grad_norm = std::sqrt(grad_norm2);
    if (!std::isfinite(out_sum) || !std::isfinite(grad_norm) || !std::isfinite(dx_norm) || grad_norm == 0 ||
        dx_norm == 0)
      fail("non-finite or zero result (output sum " + std::to_string(out_sum) + ", gradient norm " +
           std::to_string(grad_norm) + ", dx norm " + std::to_string(dx_norm) + ")");
    const version_t* v = version();
    std::printf(
        "onednn layer: cell=%s layers=%d hidden=%ld input=%ld batch=%ld steps=%ld threads=%d groups=%zu\n",
        o.cell.c_str(), o.layers, o.hidden, o.input, o.batch, o.steps, omp_get_max_threads(),
        s.groups.size());
    std::printf("onednn=%d.%d.%d isa=%s weight_reorders_fwd=%zu weight_reorders_bwd=%zu\n", v->major,
                v->minor, v->patch, isa_name(get_effective_cpu_isa()), s.groups[0].before_fwd.size(),
                s.groups[0].before_bwd.size());
    std::printf("check: output_sum=%.6g weight_grad_norm=%.6g dx_norm=%.6g\n", out_sum, grad_norm, dx_norm);
    std::printf("iterations=%ld seconds=%.3f ms_per_iter=%.3f (forward in training mode + backward)\n", timed,
                dt, 1e3 * dt / static_cast<double>(timed));
    std::printf("tokens_per_s=%.1f\n", static_cast<double>(timed) * o.batch * o.steps / dt);
  } catch (const dnnl::error& e) {
    fail(std::string("oneDNN error: ") + e.what() + " (status " + std::to_string(static_cast<int>(e.status)) +
         ")");
  }
  return 0;
}
