// The memory a model or a training run will need, estimated from its settings alone (parameters,
// gradients, optimizer moments, activations for batch x steps x layers x hidden, vocabulary-sized
// logits), so that a setting too large for the machine is refused, naming the setting and the
// amount, before anything is allocated. Counted in double: huge settings never overflow.
#pragma once

#include <string>
#include <string_view>

#include "recur/lm/language_model.h"
#include "recur/lm/train_options.h"

namespace recur {

struct MemoryEstimate {
  double parameter_bytes = 0;  // the weights
  double state_bytes = 0;      // gradients and optimizer moments (training), packed copies (inference)
  double activation_bytes = 0;
  double logits_bytes = 0;
  // The setting (options field) that the largest part grows with.
  std::string largest_field;

  [[nodiscard]] double total() const {
    return parameter_bytes + state_bytes + activation_bytes + logits_bytes;
  }
  // "12.3 GiB (parameters 4.0 GiB, gradients and optimizer 8.0 GiB, ...)".
  [[nodiscard]] std::string describe() const;
};

// The machine's physical memory in bytes (sysconf), or infinity when it cannot be told.
[[nodiscard]] double physical_memory_bytes();

// Number of parameters of a model with `config`.
[[nodiscard]] double parameter_count(const LanguageModelConfig& config);

// Training with `options`: weights, gradients, optimizer moments, the recurrent stack's saved
// activations and the head's logits and their gradient for one batch x steps minibatch.
[[nodiscard]] MemoryEstimate estimate_training_memory(const LanguageModelConfig& model,
                                                      const TrainOptions& options);
// Loading the model for scoring or generation: weights, their file copy and the packed inference copy.
[[nodiscard]] MemoryEstimate estimate_model_memory(const LanguageModelConfig& model);

// Empty when `estimate` fits in `available` bytes, else "<context>: <field> = ... needs about X,
// more than the machine's Y of memory (...)".
[[nodiscard]] std::string memory_shortfall(const MemoryEstimate& estimate, double available,
                                           std::string_view context, std::string_view field_value);

}  // namespace recur
