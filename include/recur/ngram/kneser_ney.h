// Interpolated modified Kneser-Ney estimation (Chen & Goodman 1998, sec. 3 and eq. 26), computed
// exactly as KenLM's lmplz computes it (Heafield et al. 2013, "Scalable modified Kneser-Ney
// language model estimation"), in float32 where lmplz uses float32, so that the ARPA files agree.
//
//   adjusted count a(w_1..w_n) = raw count            for n = N, and for n-grams starting with <s>
//                              = |{v : v w_1..w_n seen}|  otherwise (distinct left extensions)
//   discounts from counts of adjusted counts t_k:  Y = t_1 / (t_1 + 2 t_2),
//                              D_k = k - (k + 1) Y t_{k+1} / t_k   for k = 1, 2, 3 (D_3 serves 3+)
//   u(w | c)   = (a(c w) - D(a(c w))) / sum_x a(c x)
//   gamma(c)   = sum_k D_k |{x : a(c x) = k (3 = 3+)}| / sum_x a(c x)
//   p(w | c)   = u(w | c) + gamma(c) p(w | c without its first word),  p(w | empty) interpolated
//                with the uniform 1 / (|V| - 1) (|V| counts <unk>, <s> and </s>; <s> is never predicted)
//   ARPA: log10 p, and log10 gamma(c) as the backoff of the n-gram c (0 where c is no context).
// <unk> gets only the uniform share, p(<s>) = 1 (log10 0) so that scoring <s> costs nothing.
#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "recur/ngram/arpa.h"
#include "recur/ngram/sentence_corpus.h"

namespace recur {

// D(count) for count 0, 1, 2, 3+ (amount[0] = 0), as lmplz's Discount.
struct KneserNeyDiscount {
  std::array<float, 4> amount = {};
  [[nodiscard]] float get(uint64_t count) const { return amount[count < 3 ? count : 3]; }
  // count - D(count), lmplz's Discount::Apply.
  [[nodiscard]] float apply(uint64_t count) const { return static_cast<float>(count) - get(count); }
};

struct KneserNeyOptions {
  int order = 3;  // N, 1 to kMaxOrder
  // lmplz --discount_fallback: an order whose closed-form discounts fail gets these (D1, D2, D3+)
  // instead of an error.
  bool has_discount_fallback = false;
  std::array<float, 3> fallback_discounts = {0.5f, 1.0f, 1.5f};
  // lmplz --prune: n-grams of order n whose raw count is at most prune_thresholds[n-1] (the last
  // value for higher orders) are dropped, their mass added to their context's backoff. Empty: no
  // pruning. Non-decreasing, and 0 for unigrams.
  std::vector<uint64_t> prune_thresholds = {};
  static constexpr int kMaxOrder = 32;
};

// Per order: n-gram counts and counts of adjusted counts, the discounts used and whether they are
// the fallback.
struct KneserNeyOrderStats {
  int64_t num_ngrams = 0;                         // in the model
  int64_t num_pruned = 0;                         // left out by pruning
  std::array<uint64_t, 5> counts_of_counts = {};  // t_0..t_4: n-grams with adjusted count k
  KneserNeyDiscount discount = {};
  bool is_fallback = false;
};

// Discounts of order `order` from its counts of counts, in lmplz's float arithmetic. Throws
// ValueError naming the order and adjusted count when t_1, t_2 or t_3 is 0 or a D_k falls outside
// [0, k], unless options.has_discount_fallback (then the fallback, and *is_fallback = true).
[[nodiscard]] KneserNeyDiscount compute_kneser_ney_discount(int order,
                                                            const std::array<uint64_t, 5>& counts_of_counts,
                                                            const KneserNeyOptions& options,
                                                            bool* is_fallback = nullptr);

struct KneserNeyModel {
  ArpaModel arpa = {};                          // lines in lmplz's order: by id, then suffix order
  std::vector<KneserNeyOrderStats> stats = {};  // [order]
};

// Estimates the model of `corpus` (which must hold at least one sentence). N-grams are listed as
// lmplz lists them: unigrams by id, higher orders sorted by last word id, then the one before, ...
[[nodiscard]] KneserNeyModel estimate_kneser_ney(const SentenceCorpus& corpus,
                                                 const KneserNeyOptions& options);

}  // namespace recur
