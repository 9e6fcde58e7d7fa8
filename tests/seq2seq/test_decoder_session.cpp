// The graph-free decoder step against Seq2SeqModel::decode_step (the graph path, its reference) for
// every cell, depth, encoder direction and attention: logits, states and attention weights step by
// step, through beam-style reordering, R shrinking to one row and growing again. Then the session
// against itself: threads, the embedding table and a row's company change no bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "expect_error.h"
#include "recur/core/error.h"
#include "recur/seq2seq/decoding.h"
#include "seq2seq/decoder_session.h"

using namespace recur;

namespace {

struct Variant {
  CellType cell;
  int layers;
  bool bidirectional;
  AttentionKind attention;
  [[nodiscard]] std::string name() const {
    return std::string(cell_name(cell)) + " layers " + std::to_string(layers) +
           (bidirectional ? " bidirectional" : "") + " attention " + std::string(attention_name(attention));
  }
};

std::vector<Variant> all_variants() {
  std::vector<Variant> out;
  for (CellType cell : {CellType::kGru, CellType::kLstm, CellType::kRnnTanh})
    for (int layers : {1, 2})
      for (bool bidirectional : {false, true})
        for (AttentionKind attention : {AttentionKind::kNone, AttentionKind::kBahdanau})
          out.push_back({cell, layers, bidirectional, attention});
  return out;
}

struct Sizes {
  int64_t hidden = 5, embedding = 4, source_vocab = 9, target_vocab = 11;
};

std::unique_ptr<Seq2SeqModel> make_model(const Variant& v, const Sizes& sizes, uint64_t seed) {
  auto model = std::make_unique<Seq2SeqModel>(Seq2SeqConfig{.cell = v.cell,
                                                            .num_layers = v.layers,
                                                            .hidden_size = sizes.hidden,
                                                            .embedding_size = sizes.embedding,
                                                            .bidirectional = v.bidirectional,
                                                            .attention = v.attention,
                                                            .source_vocab_size = sizes.source_vocab,
                                                            .target_vocab_size = sizes.target_vocab});
  Rng rng(seed);
  model->reset_parameters(rng);
  return model;
}

// Encodes `B` random sources of non-increasing lengths (the longest `S`).
DecoderState encode_random(Seq2SeqModel& model, int64_t B, int64_t S, Rng& rng) {
  std::vector<int64_t> lengths(static_cast<size_t>(B));
  for (int64_t b = 0; b < B; ++b) lengths[static_cast<size_t>(b)] = std::max<int64_t>(1, S - b * S / B);
  std::vector<int32_t> ids(static_cast<size_t>(S * B));
  for (auto& id : ids)
    id = static_cast<int32_t>(rng.below(static_cast<uint64_t>(model.config().source_vocab_size)));
  Graph<float> g;
  return model.encode(g, ids, lengths, S, B);
}

std::vector<int32_t> random_tokens(int64_t R, int64_t V, Rng& rng) {
  std::vector<int32_t> tokens(static_cast<size_t>(R));
  for (auto& t : tokens) t = static_cast<int32_t>(rng.below(static_cast<uint64_t>(V)));
  return tokens;
}

// |a - b| <= tolerance * max(1, max |b|) everywhere; names the first index that is off.
void expect_close(std::span<const float> a, std::span<const float> b, double tolerance,
                  const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  double scale = 1;
  for (float x : b) scale = std::max(scale, std::abs(static_cast<double>(x)));
  for (size_t i = 0; i < a.size(); ++i) {
    const double diff = std::abs(static_cast<double>(a[i]) - static_cast<double>(b[i]));
    ASSERT_LE(diff, tolerance * scale) << what << ": index " << i << " is " << a[i] << ", expected " << b[i];
  }
}

void expect_same_bits(std::span<const float> a, std::span<const float> b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << what << ": first difference at index " << i;
}

std::span<const float> values(const Tensor<float>& t) { return {t.data(), static_cast<size_t>(t.numel())}; }

// The row selections a run goes through: beam-style repeats and reorders keeping R = 4 (so that
// a stale DecoderState::context_projection would go unnoticed by its shape), then R 4 -> 5, one
// row (R = 1), and growing again (R = 3).
const std::vector<std::vector<int64_t>> kSelections{
    {3, 1, 1, 0}, {}, {2, 0, 0, 3, 1}, {}, {3}, {}, {0, 0, 0}, {},
};

}  // namespace

TEST(DecoderSession, MatchesTheGraphStepForEveryVariant) {
  const Sizes sizes;
  for (const Variant& v : all_variants()) {
    auto model = make_model(v, sizes, 11);
    Rng rng(5);
    DecoderState state = encode_random(*model, 4, 6, rng);
    DecoderState reference = state;
    DecoderSession session(*model);
    Graph<float> g;
    Tensor<float> weights, reference_weights;
    for (size_t step = 0; step <= kSelections.size(); ++step) {
      const std::string where =
          v.name() + ", step " + std::to_string(step) + ", rows " + std::to_string(state.rows);
      const auto tokens = random_tokens(state.rows, sizes.target_vocab, rng);
      const Tensor<float> expected = model->decode_step(g, reference, tokens, &reference_weights);
      const std::span<float> logits = session.step(state, tokens, &weights);
      expect_close(logits, values(expected), 1e-5, where + ", logits");
      expect_close(values(state.h), values(reference.h), 1e-5, where + ", h");
      if (v.cell == CellType::kLstm) expect_close(values(state.c), values(reference.c), 1e-5, where + ", c");
      if (v.attention == AttentionKind::kBahdanau) {
        ASSERT_EQ(weights.shape(), reference_weights.shape()) << where;
        expect_close(values(weights), values(reference_weights), 1e-5, where + ", attention weights");
      }
      if (step < kSelections.size() && !kSelections[step].empty()) {
        select_decoder_rows(state, kSelections[step]);
        select_decoder_rows(reference, kSelections[step]);
      }
    }
  }
}

// Sizes where the products are split into column parts and the layers into row blocks (threads),
// with and without the embedding table: every path gives the same bits, and a row decoded alone
// gives the bits it gets in company.
TEST(DecoderSession, ThreadsTableAndCompanyChangeNoBit) {
  const Sizes sizes{.hidden = 64, .embedding = 24, .source_vocab = 30, .target_vocab = 700};
  for (const Variant& v : {Variant{CellType::kGru, 2, true, AttentionKind::kNone},
                           Variant{CellType::kLstm, 2, true, AttentionKind::kBahdanau},
                           Variant{CellType::kRnnTanh, 1, false, AttentionKind::kNone}}) {
    auto model = make_model(v, sizes, 3);
    Rng rng(8);
    const DecoderState start = encode_random(*model, 48, 7, rng);  // 3 row blocks of 16
    std::vector<std::vector<int32_t>> feeds;
    for (int step = 0; step < 4; ++step) feeds.push_back(random_tokens(start.rows, sizes.target_vocab, rng));

    // One run: the logits of every step, concatenated, and the final state's h.
    auto run = [&](const DecoderSessionOptions& options) {
      DecoderSession session(*model, options);
      DecoderState state = start;
      std::vector<float> all;
      for (const auto& tokens : feeds) {
        const std::span<float> logits = session.step(state, tokens);
        all.insert(all.end(), logits.begin(), logits.end());
      }
      all.insert(all.end(), state.h.data(), state.h.data() + state.h.numel());
      return all;
    };
    const auto one = run({.threads = 1});
    expect_same_bits(run({.threads = 2}), one, v.name() + ", 2 threads");
    expect_same_bits(run({.threads = 3}), one, v.name() + ", 3 threads");
    expect_same_bits(run({.threads = 2, .table_bytes = 0}), one, v.name() + ", no table");

    // Row 5 alone (R = 1) against its place in the batch.
    DecoderSession session(*model, {.threads = 2});
    DecoderState alone = start;
    const std::vector<int64_t> row{5};
    select_decoder_rows(alone, row);
    const int64_t V = sizes.target_vocab;
    for (size_t step = 0; step < feeds.size(); ++step) {
      const std::vector<int32_t> token{feeds[step][5]};
      const std::span<float> logits = session.step(alone, token);
      const size_t offset = (step * static_cast<size_t>(start.rows) + 5) * static_cast<size_t>(V);
      expect_same_bits(logits, std::span<const float>(one).subspan(offset, static_cast<size_t>(V)),
                       v.name() + ", row alone, step " + std::to_string(step));
    }
  }
}

TEST(DecoderSession, LargerSizesMatchTheGraphStep) {
  const Sizes sizes{.hidden = 64, .embedding = 24, .source_vocab = 30, .target_vocab = 700};
  for (const Variant& v : {Variant{CellType::kGru, 2, true, AttentionKind::kBahdanau},
                           Variant{CellType::kLstm, 2, false, AttentionKind::kNone}}) {
    auto model = make_model(v, sizes, 4);
    Rng rng(2);
    DecoderState state = encode_random(*model, 20, 6, rng);
    DecoderState reference = state;
    DecoderSession session(*model, {.threads = 2});
    Graph<float> g;
    for (int step = 0; step < 3; ++step) {
      const auto tokens = random_tokens(state.rows, sizes.target_vocab, rng);
      const Tensor<float> expected = model->decode_step(g, reference, tokens);
      const std::span<float> logits = session.step(state, tokens);
      const std::string where = v.name() + ", step " + std::to_string(step);
      expect_close(logits, values(expected), 1e-5, where + ", logits");
      expect_close(values(state.h), values(reference.h), 1e-5, where + ", h");
    }
  }
}

// best_tokens: each row's first maximal logit and log-sum-exp, as plain double arithmetic over the
// logits step() returned gives them; the same bits with 1 and 3 threads (rows split differently).
TEST(DecoderSession, BestTokensAreTheArgmaxAndLogSumExp) {
  const Sizes sizes{.hidden = 32, .embedding = 8, .source_vocab = 20, .target_vocab = 523};
  auto model = make_model({CellType::kGru, 2, false, AttentionKind::kNone}, sizes, 6);
  Rng rng(4);
  const DecoderState start = encode_random(*model, 37, 5, rng);
  const auto tokens = random_tokens(start.rows, sizes.target_vocab, rng);
  std::vector<std::vector<BestToken>> results;
  for (int threads : {1, 3}) {
    DecoderSession session(*model, {.threads = threads});
    DecoderState state = start;
    const std::span<float> logits = session.step(state, tokens);
    const std::vector<float> copy(logits.begin(), logits.end());
    std::vector<BestToken> best(static_cast<size_t>(start.rows));
    session.best_tokens(best);
    const int64_t V = sizes.target_vocab;
    for (int64_t r = 0; r < start.rows; ++r) {
      const float* row = copy.data() + r * V;
      const auto expected = static_cast<int32_t>(std::max_element(row, row + V) - row);
      double total = 0;
      for (int64_t v = 0; v < V; ++v) total += std::exp(static_cast<double>(row[v]) - row[expected]);
      const BestToken& b = best[static_cast<size_t>(r)];
      EXPECT_EQ(b.token, expected) << "row " << r;
      EXPECT_EQ(b.logit, row[expected]) << "row " << r;
      EXPECT_NEAR(b.log_sum_exp, row[expected] + std::log(total), 1e-5) << "row " << r;
    }
    results.push_back(best);
    test::expect_error_words<ShapeError>([&] { session.best_tokens(std::span(best).first(3)); },
                                         {"best_tokens", "3 entries", "37 rows"});
  }
  for (size_t r = 0; r < results[0].size(); ++r) {
    EXPECT_EQ(results[0][r].token, results[1][r].token);
    EXPECT_EQ(results[0][r].log_sum_exp, results[1][r].log_sum_exp)
        << "row " << r << ": threads changed bits";
  }
}

TEST(DecoderSession, RejectsBadInput) {
  const Sizes sizes;
  auto model = make_model({CellType::kGru, 2, false, AttentionKind::kBahdanau}, sizes, 1);
  Rng rng(1);
  DecoderState state = encode_random(*model, 3, 4, rng);
  DecoderSession session(*model);
  test::expect_error_words<ShapeError>(
      [&] {
        (void)session.step(state, std::vector<int32_t>{1, 2});
      },
      {"DecoderSession::step", "2 tokens", "3 rows"});
  test::expect_error_words<ValueError>(
      [&] {
        (void)session.step(state, std::vector<int32_t>{1, 11, 2});
      },
      {"DecoderSession::step", "token 11", "row 1", "[0, 11)"});
  DecoderState short_h = state;
  short_h.h = Tensor<float>(Shape{1, 3, 5});
  test::expect_error_words<ShapeError>(
      [&] {
        (void)session.step(short_h, std::vector<int32_t>{1, 2, 3});
      },
      {"state h", "[1, 3, 5]", "[2, 3, 5]"});
  DecoderState long_source = state;
  long_source.source_lengths[2] = 9;
  test::expect_error_words<ShapeError>(
      [&] {
        (void)session.step(long_source, std::vector<int32_t>{1, 2, 3});
      },
      {"source length 9", "row 2", "[1, 4]"});
  test::expect_error_words<ValueError>([&] { DecoderSession bad(*model, {.threads = 0}); },
                                       {"DecoderSession", "threads", "got 0"});
  // No rows left: nothing to do.
  DecoderState empty = state;
  select_decoder_rows(empty, std::vector<int64_t>{});
  EXPECT_TRUE(session.step(empty, std::vector<int32_t>{}).empty());
}
