// Greedy and beam search over batches of sentences; one search loop, greedy being beam 1.
#include "recur/seq2seq/decoding.h"

#include <fmt/core.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "kernels/elementwise.h"
#include "kernels/softmax_rows.h"
#include "recur/core/error.h"
#include "seq2seq/decoder_session.h"

namespace recur {

void log_softmax_rows(Tensor<float>& logits) {
  const int64_t R = logits.shape()[0], V = logits.shape()[1];
  for (int64_t r = 0; r < R; ++r) {
    float* row = logits.data() + r * V;
    const float max = *std::max_element(row, row + V);
    double sum = 0;
    for (int64_t v = 0; v < V; ++v) sum += std::exp(static_cast<double>(row[v] - max));
    const auto log_sum = static_cast<float>(std::log(sum));
    for (int64_t v = 0; v < V; ++v) row[v] = row[v] - max - log_sum;
  }
}

namespace {
// Rows `rows` of a tensor whose axis `axis` indexes the rows ([outer, R, inner]).
Tensor<float> gather_rows(const Tensor<float>& t, int axis, std::span<const int64_t> rows) {
  if (t.numel() == 0) return t;
  Shape shape = t.shape();
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < axis; ++i) outer *= shape[i];
  for (int i = axis + 1; i < shape.rank(); ++i) inner *= shape[i];
  const int64_t R = shape[axis], n = static_cast<int64_t>(rows.size());
  shape[axis] = n;
  Tensor<float> out(shape);
  for (int64_t o = 0; o < outer; ++o)
    for (int64_t i = 0; i < n; ++i)
      std::copy_n(t.data() + (o * R + rows[static_cast<size_t>(i)]) * inner, inner,
                  out.data() + (o * n + i) * inner);
  return out;
}
}  // namespace

void select_decoder_rows(DecoderState& s, std::span<const int64_t> rows) {
  for (int64_t r : rows)
    check(r >= 0 && r < s.rows, fmt::format("select_decoder_rows: row {} of {}", r, s.rows));
  s.h = gather_rows(s.h, 1, rows);
  s.c = gather_rows(s.c, 1, rows);
  s.context = gather_rows(s.context, 0, rows);
  s.context_projection = gather_rows(s.context_projection, 0, rows);
  s.memory = gather_rows(s.memory, 0, rows);
  s.memory_keys = gather_rows(s.memory_keys, 0, rows);
  std::vector<int64_t> lengths;
  if (!s.source_lengths.empty())
    for (int64_t r : rows) lengths.push_back(s.source_lengths[static_cast<size_t>(r)]);
  s.source_lengths = std::move(lengths);
  s.rows = static_cast<int64_t>(rows.size());
}

namespace {

struct Hypothesis {
  std::vector<int32_t> tokens;  // without <eos>
  double log_prob = 0;
  bool finished = false;
  std::vector<std::vector<float>> attention;
};

struct Candidate {
  double log_prob;
  int64_t row;  // the parent's state row
  int32_t token;
};

// Higher log-probability first; ties to the earlier row, then the lower token (greedy's argmax).
bool ranks_before(const Candidate& a, const Candidate& b) {
  if (a.log_prob != b.log_prob) return a.log_prob > b.log_prob;
  if (a.row != b.row) return a.row < b.row;
  return a.token < b.token;
}

// The row's `width` largest logits with their tokens, largest first, ties to the lower token: the
// order of the log-softmax, which subtracts the same number from every logit of a row.
void best_tokens(const float* row, int64_t V, size_t width, std::vector<std::pair<float, int32_t>>& out) {
  out.clear();
  if (width == 1) {  // the last place of a beam: one pass
    const auto best = static_cast<int32_t>(kernels::argmax<float>(V, row));
    out.emplace_back(row[best], best);
    return;
  }
  auto before = [](const std::pair<float, int32_t>& a, const std::pair<float, int32_t>& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  if (width > 32) {
    out.reserve(static_cast<size_t>(V));
    for (int32_t v = 0; v < V; ++v) out.emplace_back(row[v], v);
    std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(width), out.end(), before);
    out.resize(width);
    return;
  }
  for (int32_t v = 0; v < V; ++v) {  // a short sorted list: most tokens fail the first comparison
    if (out.size() == width && !(row[v] > out.back().first)) continue;
    const std::pair<float, int32_t> item(row[v], v);
    out.insert(std::upper_bound(out.begin(), out.end(), item, before), item);
    if (out.size() > width) out.pop_back();
  }
}

// log sum_v exp(row[v]) with the fused head's vectorized row kernel, which returns lse - row[t];
// it uses the row as scratch, so this comes after everything that reads the row.
double log_sum_exp(float* row, int64_t V, const std::pair<float, int32_t>& any) {
  const int32_t target = any.second;
  return kernels::softmax_cross_entropy_rows<float>(1, V, row, nullptr, &target, nullptr, 1.0f, false,
                                                    nullptr) +
         static_cast<double>(any.first);
}

double length_normalized(const Hypothesis& h, const DecodeOptions& o) {
  if (o.beam == 1) return h.log_prob;
  const double length = static_cast<double>(h.tokens.size() + (h.finished ? 1 : 0));
  return length > 0 ? h.log_prob / std::pow(length, o.alpha) : h.log_prob;
}

// Decodes the sentences `batch` (indices into sources, sorted by length, longest first).
void search_batch(Seq2SeqModel& model, Graph<float>& g, DecoderSession& session,
                  std::span<const std::vector<int32_t>> sources, std::span<const size_t> batch, int32_t bos,
                  int32_t eos, const DecodeOptions& o, std::vector<Translation>& results) {
  const auto B = static_cast<int64_t>(batch.size());
  const auto S = static_cast<int64_t>(sources[batch[0]].size());
  std::vector<int32_t> ids(static_cast<size_t>(S * B), 0);  // padding is never read by the encoder
  std::vector<int64_t> lengths(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) {
    const auto& src = sources[batch[static_cast<size_t>(b)]];
    lengths[static_cast<size_t>(b)] = static_cast<int64_t>(src.size());
    for (size_t t = 0; t < src.size(); ++t) ids[t * static_cast<size_t>(B) + static_cast<size_t>(b)] = src[t];
  }
  DecoderState state = model.encode(g, ids, lengths, S, B);

  // Per sentence: its live hypotheses (one state row each, in row order) and its finished ones.
  std::vector<std::vector<Hypothesis>> alive(static_cast<size_t>(B), std::vector<Hypothesis>(1));
  std::vector<std::vector<Hypothesis>> done(static_cast<size_t>(B));
  std::vector<int32_t> inputs(static_cast<size_t>(B), bos);
  std::vector<int64_t> row_sentence(static_cast<size_t>(B));
  std::iota(row_sentence.begin(), row_sentence.end(), int64_t{0});
  const bool keep_attention = o.keep_attention && model.config().attention == AttentionKind::kBahdanau;
  Tensor<float> weights;
  std::vector<Candidate> candidates;
  std::vector<std::pair<float, int32_t>> best;
  std::vector<BestToken> row_best;
  const bool greedy = o.beam == 1;  // one row per sentence, its best token: found on the session's threads
  for (int64_t step = 0; step < o.max_steps && state.rows > 0; ++step) {
    const std::span<float> scores = session.step(state, inputs, keep_attention ? &weights : nullptr);
    if (greedy) {
      row_best.resize(static_cast<size_t>(state.rows));
      session.best_tokens(row_best);
    }
    const int64_t V = model.config().target_vocab_size;
    std::vector<int64_t> next_rows, next_sentence;
    std::vector<int32_t> next_inputs;
    std::vector<std::vector<Hypothesis>> next_alive(static_cast<size_t>(B));
    for (int64_t r0 = 0; r0 < state.rows;) {
      const int64_t s = row_sentence[static_cast<size_t>(r0)];
      int64_t r1 = r0;
      while (r1 < state.rows && row_sentence[static_cast<size_t>(r1)] == s) ++r1;
      const auto width =
          static_cast<int64_t>(o.beam) - static_cast<int64_t>(done[static_cast<size_t>(s)].size());
      candidates.clear();
      for (int64_t r = r0; r < r1; ++r) {
        const double base = alive[static_cast<size_t>(s)][static_cast<size_t>(r - r0)].log_prob;
        if (greedy) {
          const BestToken& b = row_best[static_cast<size_t>(r)];
          candidates.push_back({base + (static_cast<double>(b.logit) - b.log_sum_exp), r, b.token});
          continue;
        }
        float* row = scores.data() + r * V;
        // Only a row's best `width` tokens can be among the sentence's best `width` candidates.
        best_tokens(row, V, static_cast<size_t>(std::min(width, V)), best);
        const double lse = log_sum_exp(row, V, best[0]);
        for (const auto& [logit, token] : best) candidates.push_back({base + (logit - lse), r, token});
      }
      const auto keep =
          static_cast<size_t>(std::min<int64_t>(width, static_cast<int64_t>(candidates.size())));
      std::partial_sort(candidates.begin(), candidates.begin() + static_cast<std::ptrdiff_t>(keep),
                        candidates.end(), ranks_before);
      for (size_t k = 0; k < keep; ++k) {
        const Candidate& c = candidates[k];
        Hypothesis h = alive[static_cast<size_t>(s)][static_cast<size_t>(c.row - r0)];
        h.log_prob = c.log_prob;
        if (keep_attention) {
          const float* w = weights.data() + c.row * weights.shape()[1];
          h.attention.emplace_back(w, w + state.source_lengths[static_cast<size_t>(c.row)]);
        }
        if (c.token == eos) {
          h.finished = true;
          done[static_cast<size_t>(s)].push_back(std::move(h));
        } else {
          h.tokens.push_back(c.token);
          next_alive[static_cast<size_t>(s)].push_back(std::move(h));
          next_rows.push_back(c.row);
          next_sentence.push_back(s);
          next_inputs.push_back(c.token);
        }
      }
      r0 = r1;
    }
    // Sentences were visited in row order, so the new rows are again grouped by sentence, each
    // group in the order of next_alive[s].
    for (int64_t s = 0; s < B; ++s)
      alive[static_cast<size_t>(s)] = std::move(next_alive[static_cast<size_t>(s)]);
    select_decoder_rows(state, next_rows);
    row_sentence = std::move(next_sentence);
    inputs = std::move(next_inputs);
  }
  for (int64_t s = 0; s < B; ++s) {
    auto& pool = done[static_cast<size_t>(s)];
    for (auto& h : alive[static_cast<size_t>(s)]) pool.push_back(std::move(h));
    const Hypothesis* best = nullptr;
    double best_score = -std::numeric_limits<double>::infinity();
    for (const auto& h : pool) {
      const double score = length_normalized(h, o);
      if (best == nullptr || score > best_score) {
        best = &h;
        best_score = score;
      }
    }
    Translation& t = results[batch[static_cast<size_t>(s)]];
    t.tokens = best->tokens;
    t.finished = best->finished;
    t.log_prob = best->log_prob;
    t.score = best_score;
    t.attention = best->attention;
  }
}

}  // namespace

std::vector<Translation> translate(Seq2SeqModel& model, std::span<const std::vector<int32_t>> sources,
                                   int32_t bos, int32_t eos, const DecodeOptions& o) {
  check(o.max_steps >= 1, fmt::format("translate: max_steps must be >= 1, got {}", o.max_steps));
  check(o.beam >= 1, fmt::format("translate: beam must be >= 1, got {}", o.beam));
  check(o.batch >= 1, fmt::format("translate: batch must be >= 1, got {}", o.batch));
  check(std::isfinite(o.alpha), "translate: alpha must be finite");
  const int64_t Vs = model.config().source_vocab_size, Vt = model.config().target_vocab_size;
  check(bos >= 0 && bos < Vt && eos >= 0 && eos < Vt,
        fmt::format("translate: <bos> {} and <eos> {} must be target ids in [0, {})", bos, eos, Vt));
  for (size_t i = 0; i < sources.size(); ++i) {
    check(!sources[i].empty(), fmt::format("translate: source {} is empty", i));
    for (int32_t id : sources[i])
      check(id >= 0 && id < Vs, fmt::format("translate: source {} holds id {}, outside [0, {})", i, id, Vs));
  }
  // Longest first, so that each batch is sorted as the encoder wants and holds similar lengths.
  std::vector<size_t> order(sources.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return sources[a].size() > sources[b].size(); });
  std::vector<Translation> results(sources.size());
  Graph<float> g(o.context);
  DecoderSession session(model, {.threads = o.context.threads});
  for (size_t start = 0; start < order.size(); start += static_cast<size_t>(o.batch)) {
    const size_t end = std::min(order.size(), start + static_cast<size_t>(o.batch));
    search_batch(model, g, session, sources, std::span<const size_t>(order).subspan(start, end - start), bos,
                 eos, o, results);
  }
  return results;
}

}  // namespace recur
