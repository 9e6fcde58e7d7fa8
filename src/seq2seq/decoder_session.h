// One decoder step of a Seq2SeqModel without the autograd graph: what greedy and beam search run
// every step (decoding.cpp). Same equations as Seq2SeqModel::decode_step (recur/seq2seq/
// seq2seq_model.h), which is the reference this is tested against; results agree to float rounding.
//
// Per step, for the R rows of a DecoderState (R may change between steps, as rows finish or beams
// are reordered by select_decoder_rows):
//   attention  q = W_q h_top;  a = softmax over the source of w_v . tanh(q + k_s);  c_t = sum_s a_s m_s
//   layer 0    gates = E_y W_e^T + c W_c^T + h W_hh^T, then the cell's fused step kernel (nn/cells.h,
//              which adds the biases); c the fixed context, or c_t with attention; W_ih0 = [W_e, W_c]
//              without attention (x = [embed(y), c]), [W_c, W_e] with it (x = [c_t, embed(y)])
//   layer k>0  gates = h_{k-1}' W_ih^T + h W_hh^T, then the step kernel
//   head       logits = [h_top', 1] [W_dense, b]^T  (the bias as one more column: no pass over logits)
// The embedding part E_y W_e^T of a token is a row of a table [Vt, G*Hd], filled the first time the
// token is fed (a table over the whole vocabulary would cost a [Vt, E] x [E, G*Hd] product up front);
// above options.table_bytes it is a product per step instead. Without attention, the context part
// c W_c^T is the same at every step of a sentence: it is computed once, on the first step a state's
// rows are seen, and kept in DecoderState::context_projection (select_decoder_rows reorders it).
//
// Every product goes through recur's packed GEMM (kernels/packed_gemm.h) on weights packed once
// here, one row as well as many (one row through packed_gemm measured as fast as packed_gemv, and
// faster than OpenBLAS's sgemm, which repacks the vocabulary-sized head on every call): each output
// element is then one FMA chain over k whatever the number of rows, so a row's numbers do not
// depend on R, on which other rows share its step, on the table, or on how the work is split over
// threads. Threads: with many rows the layers run as row blocks (up to two per thread), with few
// rows each large product is split by columns, and the head always is; threads claim the pieces
// one at a time, so one that is late to start costs only its share. The session holds a second
// copy of the decoder's weights.
#pragma once

#include <cstdint>
#include <memory>
#include <span>

#include "recur/seq2seq/seq2seq_model.h"

namespace recur {

struct DecoderSessionOptions {
  int threads = 1;  // >= 1: the caller and threads - 1 helper threads (they spin briefly, then sleep)
  int64_t table_bytes = int64_t{64} << 20;  // the largest embedding-projection table; 0 = no table
};

// A row's most likely next token, what greedy search takes from each step.
struct BestToken {
  int32_t token = 0;       // the position of the row's first maximal logit
  float logit = 0;         // that logit
  double log_sum_exp = 0;  // log sum_v exp(logit_v): the token's log-probability is logit - log_sum_exp
};

class DecoderSession {
 public:
  // Reads and packs the decoder's weights as they are now; the model must outlive the session and
  // keep its weights unchanged while the session is used (the table reads the target embedding
  // lazily). Throws ValueError for threads < 1 or table_bytes < 0.
  explicit DecoderSession(const Seq2SeqModel& model, const DecoderSessionOptions& options = {});
  ~DecoderSession();
  DecoderSession(const DecoderSession&) = delete;
  DecoderSession& operator=(const DecoderSession&) = delete;

  // Feeds one token per row (y_{t-1}, each in [0, Vt)) and returns the logits [R, Vt] of y_t,
  // advancing `state` (h, c, and context_projection on first use), as Seq2SeqModel::decode_step
  // does. With attention and `attention_weights`, writes the step's weights [R, S] there. The span
  // belongs to the session and stays valid until the next call; the caller may overwrite it.
  // Throws ShapeError when the state's tensors do not fit its rows or the model, ValueError for a
  // token out of range. Nothing allocates once the session has seen its largest R (and S).
  std::span<float> step(DecoderState& state, std::span<const int32_t> tokens,
                        Tensor<float>* attention_weights = nullptr);

  // Each row's BestToken from the logits of the last step, rows shared among the threads (serial,
  // argmax and log-sum-exp took a tenth of greedy decoding); a row's numbers do not depend on the
  // split. The logits are scratch afterwards. Throws ShapeError unless best has one entry per row.
  void best_tokens(std::span<BestToken> best);

 private:
  struct Impl;  // packed weights, table, buffers, helper threads (decoder_session.cpp)
  std::unique_ptr<Impl> impl_;
};

}  // namespace recur
