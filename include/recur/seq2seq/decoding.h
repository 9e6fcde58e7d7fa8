// Translating with a trained Seq2SeqModel: greedy and beam search (d2l 10.8), batched.
//
// Greedy: every sentence's next token is the most probable one, until it produces <eos> or
// max_steps tokens; a batch stops when every sentence has stopped (finished rows leave the batch).
// Beam search with beam K: each sentence keeps the K most probable partial translations; each step
// extends every one of them by every token and keeps the K most probable of those; one that ends in
// <eos> is set aside as finished and the beam narrows by one. After max_steps (or when nothing is
// left), the answer is the finished or unfinished candidate with the highest log P / L^alpha, L its
// length with <eos> counted (d2l's length normalization; alpha = 0 ranks by log P alone). With
// K = 1 this is greedy search exactly: both rank tokens by the same log-softmax, ties to the lower id.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "recur/core/context.h"
#include "recur/seq2seq/seq2seq_model.h"

namespace recur {

struct DecodeOptions {
  int64_t max_steps = 10;       // target tokens produced at most, <eos> included
  int beam = 1;                 // K >= 1; 1 = greedy
  double alpha = 0.75;          // length-normalization exponent (beam > 1 only; d2l's example uses 0.75)
  int64_t batch = 128;          // sentences decoded together
  bool keep_attention = false;  // greedy with attention: record each step's weights
  ComputeContext context = {};
};

struct Translation {
  std::vector<int32_t> tokens;  // the translation's ids, without <eos>
  bool finished = false;        // ended with <eos> (else it ran into max_steps)
  double log_prob = 0;          // natural log of P(tokens, <eos> when finished | source)
  double score = 0;             // log_prob / L^alpha (beam), log_prob (greedy)
  // With keep_attention: per produced token (<eos> included), the weights over the source [S_i].
  std::vector<std::vector<float>> attention;
};

// Translates every source (token ids with <eos>, each non-empty) in batches of options.batch, and
// returns the translations in the sources' order. Throws ValueError for an empty source, an id
// outside the source vocabulary, or options out of range.
[[nodiscard]] std::vector<Translation> translate(Seq2SeqModel& model,
                                                 std::span<const std::vector<int32_t>> sources, int32_t bos,
                                                 int32_t eos, const DecodeOptions& options);

// Natural-log softmax of each row of `logits` [R, V], in place; the reference both searches rank by.
void log_softmax_rows(Tensor<float>& logits);

// Keeps rows `rows` of `state` (in that order; a row may repeat): beam search's reordering.
void select_decoder_rows(DecoderState& state, std::span<const int64_t> rows);

}  // namespace recur
