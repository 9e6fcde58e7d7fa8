// Greedy and beam search: greedy against a plain argmax loop, batches against single sentences,
// a wide beam against exhaustive search, beam 1 against greedy, attention weights.
#include <gtest/gtest.h>

#include <cmath>
#include <functional>

#include "expect_error.h"
#include "recur/core/error.h"
#include "recur/seq2seq/decoding.h"

using namespace recur;

namespace {

constexpr int32_t kBos = 2, kEos = 3;

std::unique_ptr<Seq2SeqModel> make_model(AttentionKind attention, CellType cell = CellType::kGru,
                                         uint64_t seed = 7) {
  auto model = std::make_unique<Seq2SeqModel>(Seq2SeqConfig{.cell = cell,
                                                            .num_layers = 2,
                                                            .hidden_size = 6,
                                                            .embedding_size = 5,
                                                            .attention = attention,
                                                            .source_vocab_size = 11,
                                                            .target_vocab_size = 7});
  Rng rng(seed);
  model->reset_parameters(rng);
  // Make <eos> likelier, so that searches end at different lengths.
  model->parameters().value("decoder.dense.bias")[kEos] += 1.5f;
  return model;
}

const std::vector<std::vector<int32_t>> kSources{
    {4, 5, 3}, {6, 7, 8, 9, 3}, {10, 3}, {4, 4, 4, 4, 4, 4, 3}, {5, 3}};

// Log-probabilities of each token after `prefix` (fed after <bos>), one sentence.
std::vector<float> next_log_probs(Seq2SeqModel& model, const std::vector<int32_t>& source,
                                  const std::vector<int32_t>& prefix) {
  Graph<float> g;
  const std::vector<int64_t> lengths{static_cast<int64_t>(source.size())};
  DecoderState state = model.encode(g, source, lengths, static_cast<int64_t>(source.size()), 1);
  Tensor<float> scores;
  std::vector<int32_t> token{kBos};
  scores = model.decode_step(g, state, token);
  for (int32_t t : prefix) {
    token[0] = t;
    scores = model.decode_step(g, state, token);
  }
  log_softmax_rows(scores);
  return {scores.data(), scores.data() + scores.numel()};
}

}  // namespace

TEST(Decoding, GreedyIsTheArgmaxLoopAndBatchesChangeNothing) {
  for (AttentionKind attention : {AttentionKind::kNone, AttentionKind::kBahdanau}) {
    auto model = make_model(attention);
    const DecodeOptions options{.max_steps = 6, .beam = 1, .batch = 2};
    const auto batched = translate(*model, kSources, kBos, kEos, options);
    for (size_t i = 0; i < kSources.size(); ++i) {
      std::vector<int32_t> expected;
      double log_prob = 0;
      bool finished = false;
      for (int step = 0; step < 6 && !finished; ++step) {
        const std::vector<float> lp = next_log_probs(*model, kSources[i], expected);
        const auto best = static_cast<int32_t>(std::max_element(lp.begin(), lp.end()) - lp.begin());
        log_prob += lp[static_cast<size_t>(best)];
        if (best == kEos)
          finished = true;
        else
          expected.push_back(best);
      }
      EXPECT_EQ(batched[i].tokens, expected) << "sentence " << i;
      EXPECT_EQ(batched[i].finished, finished);
      EXPECT_NEAR(batched[i].log_prob, log_prob, 1e-4);
      const auto alone =
          translate(*model, std::vector<std::vector<int32_t>>{kSources[i]}, kBos, kEos, options);
      EXPECT_EQ(alone[0].tokens, batched[i].tokens);
    }
  }
}

// With a beam wider than every candidate there is, beam search is exhaustive search: its answer
// has the best length-normalized score of all translations up to max_steps tokens.
TEST(Decoding, WideBeamFindsTheBestOfAllTranslations) {
  for (AttentionKind attention : {AttentionKind::kNone, AttentionKind::kBahdanau}) {
    auto model = make_model(attention, CellType::kLstm, 19);
    constexpr int64_t kSteps = 3;
    for (double alpha : {0.0, 0.75}) {
      const DecodeOptions options{.max_steps = kSteps, .beam = 400, .alpha = alpha};
      const auto beam = translate(*model, kSources, kBos, kEos, options);
      for (size_t i = 0; i < kSources.size(); ++i) {
        double best = -INFINITY;
        std::vector<int32_t> best_tokens;
        std::function<void(std::vector<int32_t>&, double)> walk = [&](std::vector<int32_t>& prefix,
                                                                      double lp) {
          const std::vector<float> next = next_log_probs(*model, kSources[i], prefix);
          for (int32_t t = 0; t < 7; ++t) {
            const double total = lp + next[static_cast<size_t>(t)];
            const bool ends = t == kEos || static_cast<int64_t>(prefix.size()) + 1 == kSteps;
            if (ends) {
              const double length = static_cast<double>(prefix.size() + 1);
              const double score = total / std::pow(length, alpha);
              if (score > best) {
                best = score;
                best_tokens = prefix;
                if (t != kEos) best_tokens.push_back(t);
              }
            } else {
              prefix.push_back(t);
              walk(prefix, total);
              prefix.pop_back();
            }
          }
        };
        std::vector<int32_t> prefix;
        walk(prefix, 0);
        EXPECT_NEAR(beam[i].score, best, 1e-4) << "sentence " << i << " alpha " << alpha;
        EXPECT_EQ(beam[i].tokens, best_tokens) << "sentence " << i << " alpha " << alpha;
      }
    }
  }
}

TEST(Decoding, BeamOneIsGreedyAndWiderBeamsScoreNoWorseHere) {
  auto model = make_model(AttentionKind::kBahdanau);
  const auto greedy = translate(*model, kSources, kBos, kEos, {.max_steps = 8, .beam = 1});
  const auto beam1 = translate(*model, kSources, kBos, kEos, {.max_steps = 8, .beam = 1, .alpha = 0.0});
  for (size_t i = 0; i < kSources.size(); ++i) EXPECT_EQ(greedy[i].tokens, beam1[i].tokens);
  // With alpha 0, a beam keeps the greedy path's prefixes among its candidates unless better ones
  // push it out; on this model the beam's answer is never less probable than greedy's.
  const auto beam4 = translate(*model, kSources, kBos, kEos, {.max_steps = 8, .beam = 4, .alpha = 0.0});
  for (size_t i = 0; i < kSources.size(); ++i) EXPECT_GE(beam4[i].log_prob, greedy[i].log_prob - 1e-6);
}

TEST(Decoding, AttentionWeightsCoverTheSource) {
  auto model = make_model(AttentionKind::kBahdanau);
  const auto out = translate(*model, kSources, kBos, kEos, {.max_steps = 5, .keep_attention = true});
  for (size_t i = 0; i < kSources.size(); ++i) {
    const size_t produced = out[i].tokens.size() + (out[i].finished ? 1 : 0);
    ASSERT_EQ(out[i].attention.size(), produced);
    for (const auto& row : out[i].attention) {
      ASSERT_EQ(row.size(), kSources[i].size());
      double sum = 0;
      for (float w : row) {
        EXPECT_GE(w, 0.0f);
        sum += w;
      }
      EXPECT_NEAR(sum, 1.0, 1e-5);
    }
  }
}

TEST(Decoding, BadInputsAreRefused) {
  auto model = make_model(AttentionKind::kNone);
  const std::vector<std::vector<int32_t>> empty{{4, 3}, {}};
  test::expect_error_words<ValueError>([&] { (void)translate(*model, empty, kBos, kEos, {}); },
                                       {"source 1", "empty"});
  const std::vector<std::vector<int32_t>> outside{{4, 11}};
  test::expect_error_words<ValueError>([&] { (void)translate(*model, outside, kBos, kEos, {}); }, {"id 11"});
  test::expect_error_words<ValueError>([&] { (void)translate(*model, kSources, kBos, kEos, {.beam = 0}); },
                                       {"beam"});
  test::expect_error_words<ValueError>(
      [&] { (void)translate(*model, kSources, kBos, kEos, {.max_steps = 0}); }, {"max_steps"});
}
