// `recur generate`: warm a trained model up on a prefix, then sample a continuation.
#include <fmt/core.h>

#include "commands.h"
#include "recur/core/error.h"
#include "recur/lm/checkpoint.h"
#include "recur/lm/corpus.h"
#include "recur/lm/evaluate.h"
#include "recur/lm/run.h"

namespace recur::cli {

namespace {
struct GenerateOptions {
  std::string model = "runs/demo";
  std::string prefix = "time traveller ";
  int64_t length = 200;
  bool greedy = false;
  double temperature = 1.0;
  int top_k = 0;
  double top_p = 1.0;
  uint64_t seed = 42;
};
}  // namespace

void add_generate_command(CLI::App& app, const CommonOptions& common) {
  auto* cmd = app.add_subcommand("generate", "Continue a prefix with a trained model");
  auto o = std::make_shared<GenerateOptions>();
  cmd->add_option("--model", o->model, "Model folder, or a run folder (its best/ model)")
      ->capture_default_str();
  cmd->add_option("--prefix", o->prefix, "Text to warm the state up on")->capture_default_str();
  cmd->add_option("--length", o->length, "Tokens to generate")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_flag("--greedy", o->greedy, "Always take the most likely token");
  cmd->add_option("--temperature", o->temperature, "Divide logits by this before sampling (> 0)")
      ->capture_default_str();
  cmd->add_option("--top-k", o->top_k, "Sample among the k most likely tokens (0 = all)")
      ->capture_default_str();
  cmd->add_option("--top-p", o->top_p, "Sample from the smallest set holding this probability")
      ->capture_default_str();
  cmd->add_option("--seed", o->seed, "Random seed for sampling")->capture_default_str();
  cmd->footer(
      "Examples:\n  recur generate --model runs/demo --prefix \"time traveller \" --length 200 --greedy\n"
      "  recur generate --model runs/demo --temperature 0.8 --top-k 10 --seed 7");
  cmd->callback([o, &common] {
    const ComputeContext context = apply_common(common);
    SamplerOptions sampler{
        .greedy = o->greedy, .temperature = o->temperature, .top_k = o->top_k, .top_p = o->top_p};
    validate(sampler);
    LoadedModel loaded = load_model(find_model_folder(o->model));
    const Vocab& vocab = loaded.text.vocab;
    const EncodedTokens prefix = encode_text(o->prefix, loaded.text.encoding, vocab);
    if (prefix.ids.empty())
      throw ValueError("the prefix \"" + o->prefix + "\" gives no tokens after preprocessing");
    if (prefix.unknown_count > 0)
      fmt::print(stderr, "note: {} prefix token(s) are not in the model's vocabulary and were mapped to {}\n",
                 prefix.unknown_count, vocab.unk());
    Rng rng(o->seed);
    auto out = generate_tokens(*loaded.model, prefix.ids, o->length, sampler, rng,
                               {.threads = context.threads >= 2 ? 2 : 1});
    std::vector<int32_t> all = prefix.ids;
    all.insert(all.end(), out.begin(), out.end());
    fmt::print("{}\n", detokenize(all, vocab, loaded.text.encoding.level));
  });
}

}  // namespace recur::cli
