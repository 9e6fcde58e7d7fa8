// Memory estimates from settings, and the message that refuses a run the machine cannot hold.
#include "recur/lm/memory_estimate.h"

#include <fmt/core.h>
#include <unistd.h>

#include <cmath>
#include <limits>

namespace recur {

namespace {
constexpr double kFloat = sizeof(float);

std::string format_bytes(double bytes) {
  if (!std::isfinite(bytes)) return "an unbounded amount";
  if (bytes >= 1024.0 * 1024 * 1024) return fmt::format("{:.3g} GiB", bytes / (1024.0 * 1024 * 1024));
  return fmt::format("{:.3g} MiB", bytes / (1024.0 * 1024));
}

double embedding_parameters(const LanguageModelConfig& c) {
  return static_cast<double>(c.vocab_size) * static_cast<double>(c.embedding_size);
}

double optimizer_moments(OptimizerKind kind, double momentum) {
  if (kind == OptimizerKind::kSgd) return momentum != 0 ? 1 : 0;
  return 2;  // Adam, AdamW: first and second moments
}

// The field the largest part grows with: the embedding when it holds most parameters, else the hidden size.
std::string parameter_field(const LanguageModelConfig& c) {
  return embedding_parameters(c) > parameter_count(c) / 2 ? "embedding_size" : "hidden_size";
}
}  // namespace

std::string MemoryEstimate::describe() const {
  return fmt::format("{} (parameters {}, gradients/optimizer/copies {}, activations {}, logits {})",
                     format_bytes(total()), format_bytes(parameter_bytes), format_bytes(state_bytes),
                     format_bytes(activation_bytes), format_bytes(logits_bytes));
}

double physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES), page_size = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return std::numeric_limits<double>::infinity();
  return static_cast<double>(pages) * static_cast<double>(page_size);
}

double parameter_count(const LanguageModelConfig& c) {
  const double G = gate_count(c.cell), H = static_cast<double>(c.hidden_size),
               V = static_cast<double>(c.vocab_size);
  const double input = c.embedding_size > 0 ? static_cast<double>(c.embedding_size) : V;
  const double first = G * H * (input + H + 2), others = G * H * (2 * H + 2);
  return first + (c.num_layers - 1) * others + embedding_parameters(c) + V * (H + 1);
}

MemoryEstimate estimate_training_memory(const LanguageModelConfig& c, const TrainOptions& o) {
  const double params = parameter_count(c);
  const double rows = static_cast<double>(o.batch) * static_cast<double>(o.steps);
  const double H = static_cast<double>(c.hidden_size);
  // Per layer and step: the activated gates (G*H), the output (H) and the cell's extras (2H).
  const double per_layer = gate_count(c.cell) * H + 3 * H;
  MemoryEstimate e{
      .parameter_bytes = params * kFloat,
      .state_bytes = params * (1 + optimizer_moments(o.optimizer, o.momentum)) * kFloat,
      .activation_bytes = rows * (c.num_layers * per_layer + static_cast<double>(c.embedding_size)) * kFloat,
      .logits_bytes = 2 * rows * static_cast<double>(c.vocab_size) * kFloat,
      .largest_field = {}};
  const double parameter_part = e.parameter_bytes + e.state_bytes;
  e.largest_field = parameter_part >= e.activation_bytes + e.logits_bytes ? parameter_field(c) : "batch";
  return e;
}

MemoryEstimate estimate_model_memory(const LanguageModelConfig& c) {
  const double bytes = parameter_count(c) * kFloat;
  // The file's bytes and the tensors read from them, then the inference session's packed copy.
  return {.parameter_bytes = bytes, .state_bytes = 2 * bytes, .largest_field = parameter_field(c)};
}

std::string memory_shortfall(const MemoryEstimate& estimate, double available, std::string_view context,
                             std::string_view field_value) {
  if (estimate.total() <= available) return "";
  return fmt::format("{}: {} needs about {}, more than this machine's {} of memory", context, field_value,
                     estimate.describe(), format_bytes(available));
}

}  // namespace recur
